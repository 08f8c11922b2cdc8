/* spandsp reference for `ata bench` and the talk-off comparison: runs spandsp's
 * dtmf_rx, G.711 inline coders or tone_gen over NFRAMES frames of 160 samples.
 *
 *   spandsp_ref dtmf FILE.raw NFRAMES     print "<start_ms> <end_ms> <digit>" per digit
 *   spandsp_ref ulaw_enc|ulaw_dec|alaw_enc|alaw_dec FILE.raw NFRAMES
 *   spandsp_ref tone NFRAMES              350+440 Hz at -13 dBm0 (dial tone)
 *
 * FILE.raw: 16-bit little-endian 8 kHz samples, loaded whole and looped, so the cost
 * per frame is the difference between two NFRAMES (start-up and loading cancel). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spandsp.h>

#define FRAME 160

static long t_ms;       /* time of the current frame's first sample */
static long on_ms = -1;
static int on_code;

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
    int16_t *pcm = NULL;
    if (strcmp(mode, "tone") == 0) {
        frames = atol(argv[2]);
    } else {
        if (argc < 4) return 2;
        pcm = load(argv[2], &n);
        frames = atol(argv[3]);
        if (n < FRAME) { fprintf(stderr, "file too short\n"); return 2; }
    }
    long nf = n / FRAME;
    uint32_t sum = 0;
    static uint8_t codes[FRAME];
    static int16_t out[FRAME];
    if (strcmp(mode, "dtmf") == 0) {
        dtmf_rx_state_t *s = dtmf_rx_init(NULL, NULL, NULL);
        dtmf_rx_set_realtime_callback(s, report, NULL);
        for (long i = 0; i < frames; i++) {
            t_ms = i * FRAME / 8;
            dtmf_rx(s, pcm + (i % nf) * FRAME, FRAME);
        }
        if (on_ms >= 0)
            printf("%ld %ld %c\n", on_ms, frames * FRAME / 8, on_code);
        return 0;
    }
    for (long i = 0; i < frames; i++) {
        const int16_t *x = pcm ? pcm + (i % nf) * FRAME : NULL;
        if (strcmp(mode, "ulaw_enc") == 0) {
            for (int k = 0; k < FRAME; k++) codes[k] = linear_to_ulaw(x[k]);
        } else if (strcmp(mode, "ulaw_dec") == 0) {
            for (int k = 0; k < FRAME; k++) out[k] = ulaw_to_linear((uint8_t) x[k]);
        } else if (strcmp(mode, "alaw_enc") == 0) {
            for (int k = 0; k < FRAME; k++) codes[k] = linear_to_alaw(x[k]);
        } else if (strcmp(mode, "alaw_dec") == 0) {
            for (int k = 0; k < FRAME; k++) out[k] = alaw_to_linear((uint8_t) x[k]);
        } else if (strcmp(mode, "tone") == 0) {
            static tone_gen_state_t *g;
            if (!g) {
                tone_gen_descriptor_t *d =
                    tone_gen_descriptor_init(NULL, 350, -13, 440, -13, 1000000, 0, 0, 0, 1);
                g = tone_gen_init(NULL, d);
            }
            tone_gen(g, out, FRAME);
        } else {
            fprintf(stderr, "unknown mode %s\n", mode);
            return 2;
        }
        sum += codes[i % FRAME] + (uint16_t) out[i % FRAME];
    }
    printf("checksum %u\n", sum);
    return 0;
}
