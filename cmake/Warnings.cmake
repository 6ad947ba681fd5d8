# Strict warnings for gcc and clang, as errors unless TRIPLINE_WERROR=OFF.
set(TRIPLINE_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef -Wvla
  -Wnull-dereference -Wdouble-promotion -Wimplicit-fallthrough -Wswitch-enum
  -Wno-switch-enum -Wconversion -Wno-sign-conversion)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND TRIPLINE_WARNINGS -Wlogical-op -Wduplicated-cond -Wduplicated-branches)
endif()
if(TRIPLINE_WERROR)
  list(APPEND TRIPLINE_WARNINGS -Werror)
endif()
add_compile_options(${TRIPLINE_WARNINGS})
