/*
 * bench_publish: a steady publisher for tests/bench/bridge.sh's latency run.
 * Every --tick-ms it publishes, through sfsim's admin API on one keep-alive
 * connection, the events that are due by then at --rate events/s in all,
 * shared round-robin between the channels; the schedule is absolute, so a
 * late tick is caught up by the next one. sfsim stamps each event with the
 * time it rendered it (createdDate / CreatedDate, in ms), which is what the
 * reader measures against.
 *
 * Prints one line at the end:
 *   publish events=N seconds=S rate=R requests=Q max_late_ms=L
 * (max_late_ms: the worst lag of a tick behind its schedule).
 *
 * usage: bench_publish --url URL --channel CH [--channel CH...] [--rate N]
 *                      [--seconds N] [--size BYTES] [--tick-ms N]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define MAX_CHANNELS 16

static double mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
        (void)p;
        (void)arg;
        return size * n;
}

static void sleep_until(double t)
{
        struct timespec ts;

        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
                ;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "url", required_argument, NULL, 'u' },
                { "channel", required_argument, NULL, 'c' },
                { "rate", required_argument, NULL, 'r' },
                { "seconds", required_argument, NULL, 's' },
                { "size", required_argument, NULL, 'z' },
                { "tick-ms", required_argument, NULL, 't' },
                { NULL, 0, NULL, 0 },
        };
        const char *url = NULL, *channels[MAX_CHANNELS];
        char *esc[MAX_CHANNELS], req[1024];
        long rate = 1000, seconds = 60, size = 500, tick_ms = 10, requests = 0;
        long long total, published = 0;
        double t0, next, late, max_late = 0;
        int nch = 0, rr = 0, c, i, rc = 0;
        CURL *curl;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'u': url = optarg; break;
                case 'c':
                        if (nch == MAX_CHANNELS)
                                return 2;
                        channels[nch++] = optarg;
                        break;
                case 'r': rate = strtol(optarg, NULL, 10); break;
                case 's': seconds = strtol(optarg, NULL, 10); break;
                case 'z': size = strtol(optarg, NULL, 10); break;
                case 't': tick_ms = strtol(optarg, NULL, 10); break;
                default:
                        fprintf(stderr, "usage: bench_publish --url URL --channel CH... [--rate N] "
                                        "[--seconds N] [--size BYTES] [--tick-ms N]\n");
                        return 2;
                }
        }
        if (!url || !nch || rate <= 0 || seconds <= 0 || size < 0 || tick_ms <= 0) {
                fprintf(stderr, "bench_publish: --url and --channel are required; numbers must be > 0\n");
                return 2;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl = curl_easy_init();
        if (!curl)
                return 1;
        for (i = 0; i < nch; i++)
                esc[i] = curl_easy_escape(curl, channels[i], 0);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
        total = (long long)rate * seconds;
        t0 = mono_s();
        next = t0;
        while (published < total) {
                long long due;
                long per, extra;

                sleep_until(next);
                late = mono_s() - next;
                if (late > max_late)
                        max_late = late;
                due = (long long)((mono_s() - t0) * (double)rate) + 1 - published;
                if (due > total - published)
                        due = total - published;
                /* Share the due events between the channels, the remainder
                 * going round-robin so every channel gets rate / nch. */
                per = (long)(due / nch);
                extra = (long)(due % nch);
                for (i = 0; i < nch && !rc; i++) {
                        int ch = (rr + i) % nch;
                        long n = per + (i < extra);
                        long status = 0;

                        if (n <= 0)
                                continue;
                        snprintf(req, sizeof(req), "%s/admin/publish?channel=%s&count=%ld&size=%ld", url,
                                 esc[ch], n, size);
                        curl_easy_setopt(curl, CURLOPT_URL, req);
                        if (curl_easy_perform(curl) != CURLE_OK ||
                            (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status), status != 200)) {
                                fprintf(stderr, "bench_publish: publish to %s failed (HTTP %ld)\n",
                                        channels[ch], status);
                                rc = 1;
                                break;
                        }
                        published += n;
                        requests++;
                }
                if (rc)
                        break;
                rr = (rr + (int)extra) % nch;
                next += (double)tick_ms / 1e3;
        }
        printf("publish events=%lld seconds=%.2f rate=%.0f requests=%ld max_late_ms=%.1f\n", published,
               mono_s() - t0, (double)published / (mono_s() - t0), requests, max_late * 1e3);
        for (i = 0; i < nch; i++)
                curl_free(esc[i]);
        curl_easy_cleanup(curl);
        curl_global_cleanup();
        return rc;
}
