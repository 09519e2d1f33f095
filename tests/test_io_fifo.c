/* io: an input on a FIFO whose writer stays connected but sends nothing
 * more blocks the reader inside read(); ft_reader_interrupt must still end
 * the read (libavformat's interrupt callback alone is never consulted
 * there), and SIGINT must stop `batch` reading such a FIFO (exit 6, as any
 * interrupted batch run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <fcntl.h>
#include <libavcodec/packet.h>
#include <libavutil/frame.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "ft_test_service.h"
#include "io/reader.h"

/* Without the wake-up the writer's eventual close (EOF) would end the read:
 * the tests check that they ended well before it. */
#define WRITER_HOLD_S 12
#define STOP_AFTER_S 1.5

static char dir[64], clip[128], fifo[128];
static const char *bin;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Child: opens the FIFO, writes the whole clip, keeps it open, exits. */
static pid_t start_writer(void)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int out = open(fifo, O_WRONLY);
    int in = open(clip, O_RDONLY);
    char buf[65536];
    ssize_t n;
    while (out >= 0 && in >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            break;
    sleep(WRITER_HOLD_S);
    _exit(0);
}

typedef struct stopper {
    ft_reader *r;
    pthread_t th;
} stopper;

static void *stop_later(void *arg)
{
    stopper *s = arg;
    ft_test_sleep(STOP_AFTER_S);
    ft_reader_interrupt(s->r);
    return NULL;
}

static void test_reader_interrupt(void **state)
{
    (void)state;
    pid_t writer = start_writer();
    assert_true(writer > 0);
    ft_reader_params p = {.url = fifo, .device = "cpu"};
    ft_reader *r = NULL;
    assert_int_equal(ft_reader_open(&p, &r), FT_OK);
    AVFrame *f = av_frame_alloc();
    assert_non_null(f);
    stopper s = {.r = r};
    double t0 = now_s();
    assert_int_equal(pthread_create(&s.th, NULL, stop_later, &s), 0);
    /* Every frame of the clip, then a read that waits for more. */
    int frames = 0;
    ft_status st;
    ft_reader_item item;
    double pts;
    while ((st = ft_reader_read(r, f, NULL, &item, &pts)) == FT_OK)
        frames++;
    double took = now_s() - t0;
    pthread_join(s.th, NULL);
    assert_true(frames >= 40); /* the 2 s clip at 25 fps, as far as it decoded */
    assert_true(st == FT_ERR_INTERRUPTED || st == FT_ERR_INPUT_EOF);
    assert_true(took >= STOP_AFTER_S - 0.1);
    assert_true(took < STOP_AFTER_S + 3);
    av_frame_free(&f);
    ft_reader_destroy(&r);
    ft_test_stop(&writer, SIGKILL, 2);
}

static void test_batch_sigint(void **state)
{
    (void)state;
    pid_t writer = start_writer();
    assert_true(writer > 0);
    char out[160];
    snprintf(out, sizeof out, "%s/out.mp4", dir);
    char *const argv[] = {(char *)bin, "batch",    "--input", fifo, "--output",
                          out,         "--device", "cpu",     NULL};
    pid_t batch = ft_test_spawn(dir, "batch.log", argv);
    assert_true(batch > 0);
    ft_test_sleep(3); /* the clip is through; the reader waits for more */
    double t0 = now_s();
    kill(batch, SIGINT);
    int rc = ft_test_wait_exit(&batch, 6);
    assert_int_equal(rc, 6);
    assert_true(now_s() - t0 < 5);
    assert_int_equal(access(out, F_OK), -1); /* an interrupted run leaves nothing */
    ft_test_stop(&writer, SIGKILL, 2);
}

static int setup(void **state)
{
    (void)state;
    ft_log_set_level(FT_LOG_ERROR);
    bin = getenv("FT_BIN");
    if (!bin)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/ft-fifo-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(clip, sizeof clip, "%s/clip.ts", dir);
    snprintf(fifo, sizeof fifo, "%s/in.ts", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s synth --out %s --seconds 2 --fps 25 --size 320x180 >/dev/null 2>&1", bin, clip);
    if (system(cmd) != 0 || mkfifo(fifo, 0600) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_interrupt),
        cmocka_unit_test(test_batch_sigint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
