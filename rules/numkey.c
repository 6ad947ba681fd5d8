/*
 * numkey.c — exact decimal keys for JSON numbers, and the EventBridge test
 * for which number operands are allowed in numeric comparisons.
 *
 * A number text is reduced to sign, significant digits d1 d2 … dk (d1 and
 * dk non-zero) and scientific exponent E, meaning d1.d2…dk × 10^E. That form
 * is unique per value, so 300, 3.0e2 and 300.000 reduce alike. The key is
 *
 *   zero:      0x02
 *   positive:  0x03, (E + 2^31) as 4 bytes big-endian, each digit as d+1
 *              (0x01..0x0a), terminator 0x00
 *   negative:  0x01, then the positive layout with every byte after the class
 *              byte inverted (255 - b); the terminator becomes 0xff
 *
 * so memcmp() over the common length, then shorter-first, is numeric order:
 * the class byte orders sign, the exponent orders magnitude, the digits
 * order equal exponents, and the terminator sorts below any digit (0.12 <
 * 0.123), which inversion turns into above any digit (-0.12 > -0.123). Two
 * keys of different values differ at or before the shorter one's terminator,
 * so the length tie-break only ever sees equal keys. -0 is 0.
 *
 * Contract: the text must be a JSON number; anything else is -EINVAL (not
 * relied on by callers, but a fuzzer may feed garbage). More than
 * NUMKEY_MAX_DIGITS significant digits, or |E| > NUMKEY_MAX_EXP, is -ERANGE.
 * The exponent text may be arbitrarily long: it saturates while it is read.
 *
 * number_is_exact_double() follows Java's Double.toString, which is what
 * event-ruler compares against: the double nearest to the text must print
 * back as the same decimal value, where printing picks the shortest length
 * p >= 2 at which some p-digit decimal reads back as the double, and among
 * those the nearest one. p starts at 2, not 1, as Java's does: that is why
 * 5e-324 is refused (the double prints as 4.9e-324). No locale decimal point
 * is ever fed to strtod(): candidates are written as "<integer>e<exp>".
 */
#include "value.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUMKEY_CLASS_NEG 0x01
#define NUMKEY_CLASS_ZERO 0x02
#define NUMKEY_CLASS_POS 0x03
#define NUMKEY_EXP_BIAS 0x80000000u

/* Exponent text beyond this is saturated: far past any accepted exponent,
 * far below the int64_t limit even after adding a text length. */
#define EXP_SATURATE INT64_C(1000000000000000)

/* A number reduced to d1.d2…dk × 10^exp; digits are 0..9, not ASCII. */
struct decimal {
	bool neg;
	bool zero;
	int ndigits;
	int64_t exp;
	uint8_t digits[NUMKEY_MAX_DIGITS];
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Parses a JSON number into d. Returns 0, -EINVAL for text that is not a
 * JSON number, or -ERANGE for too many significant digits or an exponent out
 * of range (d is then incomplete).
 */
static int decimal_parse(const char *s, size_t n, struct decimal *d)
{
	size_t i = 0, int_start, int_end, frac_start = 0, frac_end = 0;
	size_t first_nz = SIZE_MAX, last_nz = 0, pos = 0;
	int64_t texp = 0;
	bool texp_neg = false;

	memset(d, 0, sizeof(*d));
	if (i < n && s[i] == '-') {
		d->neg = true;
		i++;
	}
	int_start = i;
	if (i < n && s[i] == '0') {
		i++;
	} else if (i < n && s[i] >= '1' && s[i] <= '9') {
		while (i < n && is_digit(s[i]))
			i++;
	} else {
		return -EINVAL;
	}
	int_end = i;
	if (i < n && s[i] == '.') {
		frac_start = ++i;
		while (i < n && is_digit(s[i]))
			i++;
		frac_end = i;
		if (frac_end == frac_start)
			return -EINVAL;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp_start;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			texp_neg = s[i++] == '-';
		exp_start = i;
		for (; i < n && is_digit(s[i]); i++)
			if (texp < EXP_SATURATE)
				texp = texp * 10 + (s[i] - '0');
		if (i == exp_start)
			return -EINVAL;
		if (texp_neg)
			texp = -texp;
	}
	if (i != n)
		return -EINVAL;

	/* Digits are numbered across the integer and fraction parts as if the
	 * decimal point were not there; pos counts them. */
	for (size_t k = int_start; k < int_end; k++, pos++) {
		if (s[k] != '0') {
			if (first_nz == SIZE_MAX)
				first_nz = pos;
			last_nz = pos;
		}
	}
	for (size_t k = frac_start; k < frac_end; k++, pos++) {
		if (s[k] != '0') {
			if (first_nz == SIZE_MAX)
				first_nz = pos;
			last_nz = pos;
		}
	}
	if (first_nz == SIZE_MAX) {
		d->zero = true;
		d->neg = false;
		return 0;
	}
	if (last_nz - first_nz >= NUMKEY_MAX_DIGITS)
		return -ERANGE;

	/* The first significant digit sits (int_len - 1 - first_nz) places
	 * left of the units position. Text lengths are far below EXP_SATURATE. */
	d->exp = texp + ((int64_t)(int_end - int_start) - 1 - (int64_t)first_nz);
	if (d->exp > NUMKEY_MAX_EXP || d->exp < -NUMKEY_MAX_EXP)
		return -ERANGE;

	pos = 0;
	for (size_t k = int_start; k < int_end; k++, pos++)
		if (pos >= first_nz && pos <= last_nz)
			d->digits[d->ndigits++] = (uint8_t)(s[k] - '0');
	for (size_t k = frac_start; k < frac_end; k++, pos++)
		if (pos >= first_nz && pos <= last_nz)
			d->digits[d->ndigits++] = (uint8_t)(s[k] - '0');
	return 0;
}

static void decimal_to_key(const struct decimal *d, struct numkey *k)
{
	uint32_t bexp;
	uint8_t flip;
	size_t len = 0;

	if (d->zero) {
		k->b[len++] = NUMKEY_CLASS_ZERO;
		k->len = (uint8_t)len;
		return;
	}
	/* Inverting every byte after the class byte reverses their order. */
	flip = d->neg ? 0xff : 0x00;
	k->b[len++] = d->neg ? NUMKEY_CLASS_NEG : NUMKEY_CLASS_POS;
	bexp = (uint32_t)(int32_t)d->exp + NUMKEY_EXP_BIAS;
	k->b[len++] = (uint8_t)(bexp >> 24) ^ flip;
	k->b[len++] = (uint8_t)(bexp >> 16) ^ flip;
	k->b[len++] = (uint8_t)(bexp >> 8) ^ flip;
	k->b[len++] = (uint8_t)bexp ^ flip;
	for (int i = 0; i < d->ndigits; i++)
		k->b[len++] = (uint8_t)(d->digits[i] + 1) ^ flip;
	k->b[len++] = flip;
	k->len = (uint8_t)len;
}

int numkey_from_text(const char *text, size_t n, struct numkey *ret)
{
	struct decimal d;
	int r;

	r = decimal_parse(text, n, &d);
	if (r < 0)
		return r;
	decimal_to_key(&d, ret);
	return 0;
}

int numkey_cmp(const struct numkey *a, const struct numkey *b)
{
	size_t common = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->b, b->b, common);

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

bool numkey_eq(const struct numkey *a, const struct numkey *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

bool numrange_contains(const struct numrange *r, const struct numkey *k)
{
	if (r->has_lo) {
		int c = numkey_cmp(k, &r->lo);

		if (c < 0 || (c == 0 && r->lo_open))
			return false;
	}
	if (r->has_hi) {
		int c = numkey_cmp(k, &r->hi);

		if (c > 0 || (c == 0 && r->hi_open))
			return false;
	}
	return true;
}

/* strtod() of m × 10^e, written without a decimal point so that the locale
 * cannot change how it reads. */
static double read_back(uint64_t m, int e)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%" PRIu64 "e%d", m, e);
	return strtod(buf, NULL);
}

/*
 * The p-digit decimal nearest to x (x finite, > 0) as m × 10^e, with m of
 * exactly p digits. printf rounds the exact binary value correctly; its
 * output is read as digits and exponent only, skipping the decimal point
 * whatever the locale made it.
 */
static int nearest_decimal(double x, int p, uint64_t *ret_m, int *ret_e)
{
	char buf[64];
	const char *c;
	uint64_t m = 0;
	int len, e;

	len = snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
	if (len < 0 || (size_t)len >= sizeof(buf))
		return -EINVAL;
	for (c = buf; *c && *c != 'e'; c++)
		if (is_digit(*c))
			m = m * 10 + (uint64_t)(*c - '0');
	if (*c != 'e')
		return -EINVAL;
	/* printf's own exponent: a few digits, always in int range */
	e = (int)strtol(c + 1, NULL, 10);
	*ret_m = m;
	*ret_e = e - (p - 1);
	return 0;
}

/* Does m × 10^e (m > 0) have the value d (non-zero, sign ignored)? */
static bool decimal_equals(const struct decimal *d, uint64_t m, int e)
{
	uint8_t digits[24];
	int nd = 0, k;

	while (m % 10 == 0) {
		m /= 10;
		e++;
	}
	for (; m; m /= 10)
		digits[nd++] = (uint8_t)(m % 10);
	if (nd != d->ndigits || (int64_t)e + nd - 1 != d->exp)
		return false;
	for (k = 0; k < nd; k++)
		if (digits[nd - 1 - k] != d->digits[k])
			return false;
	return true;
}

/* Powers of ten that are exact doubles. */
static const double exact_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;

static int bits128(u128 v)
{
	uint64_t hi = (uint64_t)(v >> 64);
	if (hi)
		return 128 - __builtin_clzll(hi);
	uint64_t lo = (uint64_t)v;
	return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* 10^k for k in [0, 19] as 64-bit words; 10^20..10^38 are products of two. */
static const uint64_t pow10_64[] = {
	UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000),
	UINT64_C(10000), UINT64_C(100000), UINT64_C(1000000), UINT64_C(10000000),
	UINT64_C(100000000), UINT64_C(1000000000), UINT64_C(10000000000), UINT64_C(100000000000),
	UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000), UINT64_C(1000000000000000),
	UINT64_C(10000000000000000), UINT64_C(100000000000000000), UINT64_C(1000000000000000000), UINT64_C(10000000000000000000),
};

/* 10^k for k in [0, 38], or 0 when it does not fit. */
static u128 pow10_128(int k)
{
	if (k < 0 || k > 38)
		return 0;
	if (k <= 19)
		return pow10_64[k];
	return (u128)pow10_64[19] * pow10_64[k - 19];
}

/*
 * w × 10^q correctly rounded (to nearest, ties to even) with 128-bit integer
 * arithmetic, for the magnitudes where it fits: 0, or -1 when it does not.
 * q < 0: the quotient w·2^k / 10^-q is taken with exactly 53 bits and the
 * remainder decides the rounding; q >= 0: the integer w·10^q is rounded to
 * 53 bits by its dropped bits.
 */
static int exact_convert(uint64_t w, int q, double *ret)
{
	if (q < 0) {
		u128 p = pow10_128(-q);
		if (!p || bits128(p) > 70)
			return -1;
		/*
		 * x = w / p = (w·2^k / p) · 2^-k. With k = 53 + bits(p) - bits(w)
		 * the quotient lies in (2^52, 2^54); when it has 54 bits, k one
		 * less gives 53. A negative k shifts the divisor instead.
		 */
		int k = 53 + bits128(p) - (64 - __builtin_clzll(w));
		u128 num, den, quo;
		for (int attempt = 0;; attempt++) {
			num = k >= 0 ? (u128)w << k : (u128)w;
			den = k >= 0 ? p : p << -k;
			quo = num / den;
			if (bits128(quo) <= 53 || attempt)
				break;
			k--;
		}
		u128 rem = num - quo * den, twice = rem << 1;
		if (twice > den || (twice == den && (quo & 1)))
			quo++;   /* 2^53 at most: still exact */
		*ret = ldexp((double)(uint64_t)quo, -k);
		return 0;
	}
	u128 p = pow10_128(q);
	if (!p || bits128(p) + 64 > 127)
		return -1;
	u128 v = (u128)w * p;
	int b = bits128(v);
	if (b <= 53) {
		*ret = (double)(uint64_t)v;
		return 0;
	}
	int sh = b - 53;
	u128 mant = v >> sh, dropped = v & (((u128)1 << sh) - 1), half = (u128)1 << (sh - 1);
	if (dropped > half || (dropped == half && (mant & 1)))
		mant++;
	*ret = ldexp((double)(uint64_t)mant, sh);
	return 0;
}
#endif

/*
 * The double nearest d (d.ndigits <= 17): Clinger's fast path when the
 * significand and the power of ten are both exact doubles, then exact 128-bit
 * arithmetic, and strtod() of "<digits>e<exponent>" (which no locale can
 * misread) for the rest.
 */
static int np_to_double(const struct numparse *d, double *ret)
{
	uint64_t w = d->w;
	int q;
	double x;

	if (d->zero) {
		*ret = d->neg ? -0.0 : 0.0;
		return 0;
	}
	q = (int)(d->exp - (d->ndigits - 1));
	if (w <= (UINT64_C(1) << 53) && q >= -22 && q <= 22) {
		x = (double)w;
		x = q < 0 ? x / exact_pow10[-q] : x * exact_pow10[q];
		goto done;
	}
#ifdef __SIZEOF_INT128__
	if (exact_convert(w, q, &x) == 0 && x >= 2.2250738585072014e-308)
		goto done;
#endif
	{
		char buf[48];
		snprintf(buf, sizeof(buf), "%" PRIu64 "e%d", w, q);
		x = strtod(buf, NULL);
	}
done:
	*ret = d->neg ? -x : x;
	return isfinite(x) ? 0 : -ERANGE;
}

#ifdef __SIZEOF_INT128__
/*
 * The printed-form test for a 16- or 17-digit decimal d with exact integer
 * arithmetic: 1 exact, 0 not, -1 when the numbers involved do not fit in 128
 * bits (or d is subnormal) and the caller must take the slow path.
 *
 * x = the double nearest d = m × 2^e. d is x's printed form iff (a) no
 * decimal with one digit less lies in x's rounding interval — it suffices to
 * test the two such decimals around d, L and U, since the interval is convex
 * and holds d — and (b) d is the nearest decimal of its length to x.
 * Everything is compared on one integer scale: binary quantities in units of
 * 2^(e-2) (x = 4m, the interval ends at 4m ± 2, or 4m - 1 below a power of
 * two) and decimal ones in units of 10^q, both multiplied up to integers.
 */
static int exact_fast(const struct numparse *d, double x)
{
	uint64_t w = d->w;
	int q = (int)d->exp - (d->ndigits - 1);

	x = fabs(x);
	if (!isfinite(x) || x < 2.2250738585072014e-308)
		return -1;   /* overflow and subnormals: slow path */
	int ex;
	double f = frexp(x, &ex);
	uint64_t m = (uint64_t)ldexp(f, 53);
	int e = ex - 53;

	/* multipliers that bring both kinds of unit to one integer scale */
	int s2 = e - 2, s10 = q;
	u128 mb = 1, md = 1;
	if (s2 > 0) {
		if (s2 > 60)
			return -1;
		mb <<= s2;
	} else {
		if (-s2 > 66)
			return -1;
		md <<= -s2;
	}
	if (s10 < 0) {
		u128 p = pow10_128(-s10);
		if (!p || bits128(p) + bits128(mb) > 70)
			return -1;
		mb *= p;
	} else {
		u128 p = pow10_128(s10);
		if (!p || bits128(p) + bits128(md) > 70)
			return -1;
		md *= p;
	}
	/* k ≤ 2^55 and t ≤ 10^17 < 2^57: products stay below 2^127 */
	u128 X = (u128)(4 * m) * mb;
	u128 hi = (u128)(4 * m + 2) * mb;
	u128 lo = (u128)(4 * m - (m == (UINT64_C(1) << 52) ? 1 : 2)) * mb;
	bool inclusive = (m & 1) == 0;
	uint64_t Lw = w / 10 * 10, Uw = Lw + 10;
	u128 L = (u128)Lw * md, U = (u128)Uw * md, D = (u128)w * md;

#define IN_INTERVAL(v) (inclusive ? ((v) >= lo && (v) <= hi) : ((v) > lo && (v) < hi))
	if (IN_INTERVAL(L) || IN_INTERVAL(U))
		return 0;
	/* d's neighbour of the same length on x's side, if it also reads back
	 * and is nearer, is the printed form instead (the lopsided interval at a
	 * power of two can keep the nearest one out) */
	u128 diff = D > X ? D - X : X - D;
	if (D == X)
		return 1;
	u128 N = D > X ? D - md : D + md;
	u128 ndiff = N > X ? N - X : X - N;
	if (!IN_INTERVAL(N) || ndiff > diff)
		return 1;
	return ndiff < diff ? 0 : -1;   /* a tie: let the slow path decide */
#undef IN_INTERVAL
}
#endif

int number_parse(const char *text, size_t n, struct numparse *ret)
{
	struct decimal d;

	if (decimal_parse(text, n, &d) < 0 || d.ndigits > 17 || d.exp > 309 || d.exp < -325)
		return -ERANGE;
	ret->w = 0;
	for (int i = 0; i < d.ndigits; i++)
		ret->w = ret->w * 10 + d.digits[i];
	ret->exp = (int32_t)d.exp;
	ret->ndigits = (int32_t)d.ndigits;
	ret->neg = d.neg;
	ret->zero = d.zero;
	return 0;
}

int numparse_to_double(const struct numparse *p, double *ret)
{
	return np_to_double(p, ret);
}

int number_to_double(const char *text, size_t n, double *ret)
{
	struct numparse p;

	if (number_parse(text, n, &p) < 0)
		return -ERANGE;
	return np_to_double(&p, ret);
}

/*
 * number_is_exact_double() on a parsed number. x is its nearest double when
 * the caller has it (NAN otherwise), so the 16/17-digit test need not
 * convert again.
 */
static bool np_exact(const struct numparse *d, double x, const char *text, size_t n)
{
	if (d->zero)
		return true;
	if (d->ndigits > 17 || d->exp > 308 || d->exp < -324)
		return false;
	/* up to 15 digits in the normal range: see number_is_exact_double_reference() */
	if (d->ndigits <= 15 && d->exp >= -307 && d->exp <= 307)
		return true;
#ifdef __SIZEOF_INT128__
	if (d->exp >= -307 && d->exp <= 307) {
		if (isnan(x) && np_to_double(d, &x) < 0)
			return false;
		int r = exact_fast(d, x);
		if (r >= 0)
			return r == 1;
	}
#else
	(void)x;
#endif
	return number_is_exact_double_reference(text, n);
}

bool numparse_is_exact(const struct numparse *p, double x, const char *text, size_t n)
{
	return np_exact(p, x, text, n);
}

bool number_is_exact_double(const char *text, size_t n)
{
	struct numparse p;

	/* more than 17 digits, or beyond the double range: never exact */
	if (number_parse(text, n, &p) < 0)
		return false;
	return np_exact(&p, (double)NAN, text, n);
}

/* The definition, by printing: slow (several printf/strtod), used for what
 * exact_fast() leaves open and, by the tests, as its reference. */
bool number_is_exact_double_reference(const char *text, size_t n)
{
	struct decimal d;
	double x;
	uint64_t m;
	int e, p;

	if (decimal_parse(text, n, &d) < 0)
		return false;
	if (d.zero)
		return true;
	/* A double has at most 17 significant digits in its shortest form and
	 * a decimal exponent within [-324, 308]; skip strtod for the rest. */
	if (d.ndigits > 17 || d.exp > 308 || d.exp < -324)
		return false;

	/*
	 * Up to 15 significant digits in the normal range: distinct decimals of
	 * that length are distinct doubles (DBL_DIG), so no shorter decimal reads
	 * back as this double and no other one of the same length is nearer; the
	 * printed form has the text's value. This is the common case on the
	 * matching path, where every event number with a numeric condition on
	 * its path is checked.
	 */
	if (d.ndigits <= 15 && d.exp >= -307 && d.exp <= 307)
		return true;

	m = 0;
	for (int i = 0; i < d.ndigits; i++)
		m = m * 10 + d.digits[i];
	x = read_back(m, (int)d.exp - (d.ndigits - 1));
	if (x == 0 || !isfinite(x))
		return false;

	/*
	 * With 16 or 17 digits, a shorter printed form exists iff a 15-digit one
	 * does (a shorter decimal padded with zeros is a 15-digit one that reads
	 * back), so the search may start at 15 instead of 2.
	 */
	for (p = d.ndigits >= 16 ? 15 : 2; p <= 17; p++) {
		if (nearest_decimal(x, p, &m, &e) < 0)
			return false;
		if (read_back(m, e) == x)
			return decimal_equals(&d, m, e);
		/*
		 * Just below a power of two the rounding interval is lopsided:
		 * the nearest p-digit decimal can fall out on the narrow side
		 * while its neighbour on the other side of x still reads back.
		 */
		if (read_back(m, e) < x)
			m++;
		else
			m--;
		if (m > 0 && read_back(m, e) == x)
			return decimal_equals(&d, m, e);
	}
	/* Unreachable: 17 digits always read back. */
	return false;
}
