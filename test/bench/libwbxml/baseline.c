/*
 * libwbxml baseline for `npm run bench` (DM Workbench).
 *
 * Does in-process, in a loop, the conversions libwbxml's command-line tools do:
 *   decode = `wbxml2xml -m 0`          (WBXML bytes -> compact XML text)
 *   encode = `xml2wbxml -v 1.2 -n`     (XML text -> WBXML 1.2 bytes, no string table)
 * on one WBXML file and one XML file, and prints one JSON line with the same fields as
 * `dmw codec bench --json` plus memory figures:
 *   {"decode_MBps":..,"encode_MBps":..,"decode_us_per_msg":..,"encode_us_per_msg":..,
 *    "decode_cpu_us_per_msg":..,"encode_cpu_us_per_msg":..,
 *    "decode_iterations":..,"encode_iterations":..,"wbxml_bytes":..,"xml_bytes":..,
 *    "base_rss_bytes":..,"peak_rss_bytes":..,"peak_rss_reset":true,"libwbxml":"0.11.8"}
 * base_rss_bytes is the resident set just before the timed loops; peak_rss_bytes the high-water mark
 * at the end, which covers the timed loops alone when peak_rss_reset is true (Linux clear_refs).
 * MB/s counts input bytes consumed (WBXML for decode, XML for encode), 1 MB = 1e6 bytes.
 * *_cpu_us_per_msg is the process's CPU time per conversion over the same loops (it does not grow
 * while other processes hold the CPU, so it is the steadier figure on a shared machine).
 * The files are read before timing starts; each iteration frees its output, as the tools do.
 *
 * Usage: baseline WBXML_FILE XML_FILE [--iterations N] [--min-millis M] [--mode both|decode|encode]
 *   --iterations N  time at least N conversions of each kind (default 0)
 *   --min-millis M  and keep going until at least M ms were timed (default 1000 when no
 *                   --iterations is given, else 0)
 *   --mode          run only one direction (memory figures then belong to that direction alone)
 * Exit status: 0 ok, 2 usage or I/O error, 3 an input does not convert.
 *
 * Built by test/bench/libwbxml/harness.ts with: cc -O2 baseline.c $(pkg-config --cflags --libs libwbxml2)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <wbxml/wbxml.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU time of the process (all threads), as node's process.cpuUsage() counts ours. */
static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A "VmRSS:" / "VmHWM:" line of /proc/self/status, in bytes (-1 when unavailable). */
static long long proc_status_kib(const char *key)
{
    char line[256];
    long long kib = -1;
    size_t klen = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0) {
            kib = atoll(line + klen);
            break;
        }
    }
    fclose(f);
    return kib < 0 ? -1 : kib * 1024LL;
}

/* Resident set size now. */
static long long current_rss_bytes(void)
{
    long long b = proc_status_kib("VmRSS:");
    return b < 0 ? 0 : b;
}

/* High-water mark of the resident set size (VmHWM; ru_maxrss, in KiB, where /proc is missing). */
static long long peak_rss_bytes(void)
{
    struct rusage ru;
    long long b = proc_status_kib("VmHWM:");
    if (b >= 0)
        return b;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (long long)ru.ru_maxrss * 1024LL;
}

/*
 * Resets the RSS high-water mark to the current RSS (Linux >= 4.0: "5" to /proc/self/clear_refs), so
 * that VmHWM afterwards is the peak of the timed loops alone, not of start-up. Returns 1 on success.
 */
static int reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int ok;
    if (f == NULL)
        return 0;
    ok = fputs("5", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok;
}

/* Reads a whole file; adds a NUL after the data (xml2wbxml does the same) without counting it. */
static unsigned char *read_file(const char *path, unsigned long *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, used = 0, n;
    if (f == NULL) {
        fprintf(stderr, "baseline: cannot open %s\n", path);
        return NULL;
    }
    for (;;) {
        if (cap - used < 65536) {
            unsigned char *grown;
            cap = cap ? cap * 2 : 65536;
            grown = realloc(buf, cap + 1);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                fprintf(stderr, "baseline: out of memory reading %s\n", path);
                return NULL;
            }
            buf = grown;
        }
        n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fclose(f);
        free(buf);
        fprintf(stderr, "baseline: error reading %s\n", path);
        return NULL;
    }
    fclose(f);
    buf[used] = '\0';
    *len = (unsigned long)used;
    return buf;
}

static WBXMLConvWBXML2XML *decoder;
static WBXMLConvXML2WBXML *encoder;

/* One `wbxml2xml -m 0`; returns the XML length (so the work cannot be optimised away) or -1. */
static long decode_once(unsigned char *wbxml, unsigned long wbxml_len, WBXMLError *err)
{
    WB_UTINY *xml = NULL;
    WB_ULONG xml_len = 0;
    WBXMLError ret = wbxml_conv_wbxml2xml_run(decoder, wbxml, wbxml_len, &xml, &xml_len);
    if (err != NULL)
        *err = ret;
    if (ret != WBXML_OK)
        return -1;
    free(xml);
    return (long)xml_len;
}

/* One `xml2wbxml -v 1.2 -n`; returns the WBXML length or -1. */
static long encode_once(unsigned char *xml, unsigned long xml_len, WBXMLError *err)
{
    WB_UTINY *wbxml = NULL;
    WB_ULONG wbxml_len = 0;
    WBXMLError ret = wbxml_conv_xml2wbxml_run(encoder, xml, xml_len, &wbxml, &wbxml_len);
    if (err != NULL)
        *err = ret;
    if (ret != WBXML_OK)
        return -1;
    free(wbxml);
    return (long)wbxml_len;
}

typedef long (*conv_fn)(unsigned char *, unsigned long, WBXMLError *);

struct timing {
    double seconds;
    double cpu_seconds;
    long long iterations;
};

/* Warm-up, then batches (doubling until a batch takes >= 20 ms) until both limits are met. */
static struct timing time_loop(conv_fn fn, unsigned char *in, unsigned long len,
                               long long min_iterations, double min_ms, long *sink)
{
    struct timing t = {0.0, 0.0, 0};
    long long batch = 1, i, warm;
    double start, cpu_start, elapsed;

    for (warm = 0; warm < 20; warm++)
        *sink += fn(in, len, NULL);

    for (;;) {
        cpu_start = cpu_ns();
        start = now_ns();
        for (i = 0; i < batch; i++)
            *sink += fn(in, len, NULL);
        elapsed = now_ns() - start;
        t.cpu_seconds += (cpu_ns() - cpu_start) / 1e9;
        t.seconds += elapsed / 1e9;
        t.iterations += batch;
        if (t.iterations >= min_iterations && t.seconds * 1e3 >= min_ms)
            break;
        if (elapsed < 20e6 && batch < (1LL << 30))
            batch *= 2;
    }
    return t;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: baseline WBXML_FILE XML_FILE [--iterations N] [--min-millis M] [--mode both|decode|encode]\n");
}

int main(int argc, char **argv)
{
    const char *wbxml_path = NULL, *xml_path = NULL, *mode = "both";
    long long iterations = 0;
    double min_ms = -1;
    unsigned char *wbxml = NULL, *xml = NULL;
    unsigned long wbxml_len = 0, xml_len = 0;
    int do_decode, do_encode, i;
    long sink = 0;
    long long base_rss;
    int hwm_reset;
    WBXMLError err = WBXML_OK;
    struct timing dec = {0.0, 0.0, 0}, enc = {0.0, 0.0, 0};

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            iterations = atoll(argv[++i]);
        } else if (strcmp(argv[i], "--min-millis") == 0 && i + 1 < argc) {
            min_ms = atof(argv[++i]);
        } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            mode = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            usage();
            return 2;
        } else if (wbxml_path == NULL) {
            wbxml_path = argv[i];
        } else if (xml_path == NULL) {
            xml_path = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (wbxml_path == NULL || xml_path == NULL) {
        usage();
        return 2;
    }
    if (strcmp(mode, "both") != 0 && strcmp(mode, "decode") != 0 && strcmp(mode, "encode") != 0) {
        usage();
        return 2;
    }
    do_decode = strcmp(mode, "encode") != 0;
    do_encode = strcmp(mode, "decode") != 0;
    if (min_ms < 0)
        min_ms = iterations > 0 ? 0 : 1000;
    if (iterations <= 0 && min_ms <= 0)
        iterations = 1;

    wbxml = read_file(wbxml_path, &wbxml_len);
    xml = read_file(xml_path, &xml_len);
    if (wbxml == NULL || xml == NULL || wbxml_len == 0 || xml_len == 0) {
        if (wbxml != NULL && wbxml_len == 0)
            fprintf(stderr, "baseline: %s is empty\n", wbxml_path);
        if (xml != NULL && xml_len == 0)
            fprintf(stderr, "baseline: %s is empty\n", xml_path);
        free(wbxml);
        free(xml);
        return 2;
    }

    /* Same converter options as the tools: wbxml2xml -m 0 (its params.indent default is 1). */
    if (wbxml_conv_wbxml2xml_create(&decoder) != WBXML_OK || wbxml_conv_xml2wbxml_create(&encoder) != WBXML_OK) {
        fprintf(stderr, "baseline: cannot create libwbxml converters\n");
        return 2;
    }
    wbxml_conv_wbxml2xml_set_gen_type(decoder, WBXML_GEN_XML_COMPACT);
    wbxml_conv_wbxml2xml_set_indent(decoder, 1);
    /* xml2wbxml -v 1.2 -n */
    wbxml_conv_xml2wbxml_set_version(encoder, WBXML_VERSION_12);
    wbxml_conv_xml2wbxml_disable_string_table(encoder);

    /* Both conversions must succeed before anything is timed. */
    if (do_decode && decode_once(wbxml, wbxml_len, &err) < 0) {
        fprintf(stderr, "baseline: libwbxml cannot decode the WBXML input %s: %s\n", wbxml_path,
                (const char *)wbxml_errors_string(err));
        return 3;
    }
    if (do_encode && encode_once(xml, xml_len, &err) < 0) {
        fprintf(stderr, "baseline: libwbxml cannot encode the XML input %s: %s\n", xml_path,
                (const char *)wbxml_errors_string(err));
        return 3;
    }

    hwm_reset = reset_peak_rss();
    base_rss = current_rss_bytes();
    if (do_decode)
        dec = time_loop(decode_once, wbxml, wbxml_len, iterations, min_ms, &sink);
    if (do_encode)
        enc = time_loop(encode_once, xml, xml_len, iterations, min_ms, &sink);

#define MBPS(len, t) ((t).seconds > 0 ? (double)(len) * (double)(t).iterations / (t).seconds / 1e6 : 0.0)
#define USPM(t) ((t).iterations > 0 ? (t).seconds * 1e6 / (double)(t).iterations : 0.0)
#define CPU_USPM(t) ((t).iterations > 0 ? (t).cpu_seconds * 1e6 / (double)(t).iterations : 0.0)
    printf("{\"decode_MBps\":%.4f,\"encode_MBps\":%.4f,\"decode_us_per_msg\":%.4f,\"encode_us_per_msg\":%.4f,"
           "\"decode_cpu_us_per_msg\":%.4f,\"encode_cpu_us_per_msg\":%.4f,"
           "\"decode_iterations\":%lld,\"encode_iterations\":%lld,\"wbxml_bytes\":%lu,\"xml_bytes\":%lu,"
           "\"base_rss_bytes\":%lld,\"peak_rss_bytes\":%lld,\"peak_rss_reset\":%s,\"libwbxml\":\"%s\",\"sink\":%ld}\n",
           MBPS(wbxml_len, dec), MBPS(xml_len, enc), USPM(dec), USPM(enc), CPU_USPM(dec), CPU_USPM(enc), dec.iterations, enc.iterations,
           wbxml_len, xml_len, base_rss, peak_rss_bytes(), hwm_reset ? "true" : "false", WBXML_LIB_VERSION, sink);

    wbxml_conv_wbxml2xml_destroy(decoder);
    wbxml_conv_xml2wbxml_destroy(encoder);
    free(wbxml);
    free(xml);
    return 0;
}
