/* spandsp reference for `ata bench` and the talk-off comparison: runs spandsp's
 * dtmf_rx, G.711 inline coders or tone_gen over NFRAMES frames of 160 samples.
 *
 *   spandsp_ref dtmf FILE.raw NFRAMES     print "<start_ms> <end_ms> <digit>" per digit
 *   spandsp_ref ulaw_enc|ulaw_dec|alaw_enc|alaw_dec FILE.raw NFRAMES
 *   spandsp_ref tone NFRAMES              350+440 Hz at -13 dBm0 (dial tone)
 *   spandsp_ref none FILE.raw NFRAMES     the same frame loop, calling a function that
 *                                         does nothing (its cost is the bench's to subtract)
 *
 * FILE.raw: 16-bit little-endian 8 kHz samples, loaded whole and looped, so the cost
 * per frame is the difference between two NFRAMES (start-up and loading cancel).
 *
 * Every mode runs one and the same loop: per frame it computes the frame's time and
 * address and makes one indirect call of the mode's work function. The mode is chosen
 * once, before the loop, and nothing else happens per frame (no string compares, no
 * checksum), so "mode X minus mode none" is the work function alone: the call and
 * what it does. The work functions are noinline and write to global buffers, so the
 * compiler can neither drop them nor merge them into the loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spandsp.h>

#define FRAME 160

static long t_ms;       /* time of the current frame's first sample */
static long on_ms = -1;
static int on_code;

static dtmf_rx_state_t *rx;
static tone_gen_state_t *gen;
uint8_t codes[FRAME];   /* global: outputs the compiler must keep */
int16_t out[FRAME];

static void report(void *user, int code, int level, int delay)
{
    (void) user; (void) level;
    /* delay: samples between the event and the end of the processed chunk */
    long t = t_ms + (FRAME - delay) / 8;
    if (code) {
        on_code = code;
        on_ms = t;
    } else if (on_ms >= 0) {
        printf("%ld %ld %c\n", on_ms, t, on_code);
        on_ms = -1;
    }
}

typedef void (*work_fn)(const int16_t *x);

__attribute__((noinline)) static void w_none(const int16_t *x)
{
    __asm__ volatile ("" : : "r"(x) : "memory");
}

__attribute__((noinline)) static void w_dtmf(const int16_t *x)
{
    dtmf_rx(rx, x, FRAME);
}

__attribute__((noinline)) static void w_ulaw_enc(const int16_t *x)
{
    for (int k = 0; k < FRAME; k++) codes[k] = linear_to_ulaw(x[k]);
}

__attribute__((noinline)) static void w_ulaw_dec(const int16_t *x)
{
    for (int k = 0; k < FRAME; k++) out[k] = ulaw_to_linear((uint8_t) x[k]);
}

__attribute__((noinline)) static void w_alaw_enc(const int16_t *x)
{
    for (int k = 0; k < FRAME; k++) codes[k] = linear_to_alaw(x[k]);
}

__attribute__((noinline)) static void w_alaw_dec(const int16_t *x)
{
    for (int k = 0; k < FRAME; k++) out[k] = alaw_to_linear((uint8_t) x[k]);
}

__attribute__((noinline)) static void w_tone(const int16_t *x)
{
    (void) x;
    tone_gen(gen, out, FRAME);
}

static int16_t *load(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    *n = bytes / 2;
    int16_t *p = malloc(bytes + 2 * FRAME);
    if (!p || fread(p, 2, *n, f) != (size_t) *n) { fprintf(stderr, "read %s\n", path); exit(2); }
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: see source\n"); return 2; }
    const char *mode = argv[1];
    long frames, n = 0;
    int16_t *pcm;
    static int16_t zero[FRAME];
    if (strcmp(mode, "tone") == 0) {
        frames = atol(argv[2]);
        pcm = zero;
        n = FRAME;
    } else {
        if (argc < 4) return 2;
        pcm = load(argv[2], &n);
        frames = atol(argv[3]);
        if (n < FRAME) { fprintf(stderr, "file too short\n"); return 2; }
    }
    long nf = n / FRAME;
    work_fn fn;
    if (strcmp(mode, "none") == 0) {
        fn = w_none;
    } else if (strcmp(mode, "dtmf") == 0) {
        rx = dtmf_rx_init(NULL, NULL, NULL);
        dtmf_rx_set_realtime_callback(rx, report, NULL);
        fn = w_dtmf;
    } else if (strcmp(mode, "ulaw_enc") == 0) {
        fn = w_ulaw_enc;
    } else if (strcmp(mode, "ulaw_dec") == 0) {
        fn = w_ulaw_dec;
    } else if (strcmp(mode, "alaw_enc") == 0) {
        fn = w_alaw_enc;
    } else if (strcmp(mode, "alaw_dec") == 0) {
        fn = w_alaw_dec;
    } else if (strcmp(mode, "tone") == 0) {
        tone_gen_descriptor_t *d =
            tone_gen_descriptor_init(NULL, 350, -13, 440, -13, 1000000, 0, 0, 0, 1);
        gen = tone_gen_init(NULL, d);
        fn = w_tone;
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    for (long i = 0; i < frames; i++) {
        t_ms = i * FRAME / 8;
        fn(pcm + (i % nf) * FRAME);
    }
    if (fn == w_dtmf && on_ms >= 0)
        printf("%ld %ld %c\n", on_ms, frames * FRAME / 8, on_code);
    return 0;
}
