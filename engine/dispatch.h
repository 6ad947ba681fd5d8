/* placeholder until the dispatcher lands: the bus's one call */
#ifndef TRIPLINE_ENGINE_DISPATCH_H
#define TRIPLINE_ENGINE_DISPATCH_H
#include <stdint.h>
struct dispatch;
struct event;
struct rulegen;
void dispatch_submit(struct dispatch *d, struct event *ev, struct rulegen *gen, uint32_t rule, uint32_t target);
#endif
