/* scripts/gpu-check.sh's control flow, the part of a 15-minute GPU session
 * that can be checked without a GPU: with every stage body a no-op
 * (GPU_CHECK_STUB=1) and failures and hangs injected, a failing stage and a
 * stage that outlives its time box do not stop the later ones, the deadline
 * skips stages that no longer fit, SIGTERM marks the running stage "killed", and in
 * every case summary.txt, results.json and logs.tgz are under OUT (the device
 * tool brings back at most 8 files). Needs bash, python3, tar and timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ft_test_cmd.h"

#define STATUS_CAP 16

static char dir[64];
static char out_buf[65536], summary[65536], json[65536];

/* The status column of stage `name`'s row in summary.txt ("" when absent). */
static const char *stage_status(const char *name, char st[STATUS_CAP])
{
    size_t n = strlen(name);
    st[0] = '\0';
    for (const char *l = summary; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, name, n) && l[n] == ' ') {
            if (sscanf(l + n, "%15s", st) != 1)
                st[0] = '\0';
            break;
        }
    return st;
}

static void read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs the check with `env` (extra assignments) into dir/<tag>, `then`
 * appended to its command line (shell text: "" to wait for it); returns the
 * exit code and leaves its summary.txt and results.json in `summary` and
 * `json`. */
static int run_check(const char *tag, const char *env, const char *then)
{
    const char *src = getenv("FT_SOURCE_DIR");
    assert_non_null(src);
    char cmd[1024];
    int n = snprintf(cmd, sizeof cmd,
                     "cd '%s' || exit 1; export TMPDIR='%s/%s' OUT='%s/%s/out' GPU_CHECK_STUB=1 "
                     "%s; bash scripts/gpu-check.sh %s",
                     src, dir, tag, dir, tag, env, then);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/%s", dir, tag);
    assert_int_equal(mkdir(sub, 0700), 0);
    int rc = ft_test_run(cmd, out_buf, sizeof out_buf);
    /* what comes back: these three, nothing deeper, at most 8 files */
    char path[256];
    snprintf(path, sizeof path, "%s/out", sub);
    DIR *d = opendir(path);
    assert_non_null(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            files++;
    closedir(d);
    assert_true(files >= 3 && files <= 8);
    const char *names[] = {"logs.tgz", "results.json", "summary.txt"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/out/%s", sub, names[i]);
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        assert_true(sb.st_size > 0);
    }
    read_file(path, summary, sizeof summary);
    snprintf(path, sizeof path, "%s/out/results.json", sub);
    read_file(path, json, sizeof json);
    return rc;
}

static void test_failure_and_timeout(void **state)
{
    (void)state;
    /* two stages fail, the streams stage (capped at 3 s) hangs */
    int rc = run_check("flow",
                       "GPU_CHECK_SIMULATE_FAIL='test_nn_cuda_ops bench' "
                       "GPU_CHECK_SIMULATE_HANG=streams GPU_CHECK_STREAMS_BUDGET_S=3",
                       "");
    assert_int_equal(rc, 0);
    char st[STATUS_CAP];
    assert_string_equal(stage_status("setup", st), "pass");
    assert_string_equal(stage_status("build", st), "pass");
    assert_string_equal(stage_status("test_nn_cuda_ops", st), "FAIL");
    /* the stages after a failure or a timeout still run */
    assert_string_equal(stage_status("test_nn_cuda_rfdetr", st), "pass");
    assert_string_equal(stage_status("bench", st), "FAIL");
    assert_string_equal(stage_status("torch", st), "pass");
    assert_string_equal(stage_status("pipeline", st), "pass");
    assert_string_equal(stage_status("streams", st), "timeout");
    assert_string_equal(stage_status("infer_share", st), "pass");
    assert_string_equal(stage_status("suite", st), "pass");
    assert_non_null(strstr(summary, "time box 3 s"));
    assert_non_null(strstr(summary, "batch 1: n/a (bench FAIL)"));
    assert_null(strstr(summary, "RUNNING:"));
    assert_non_null(strstr(summary, "check finished"));
    assert_non_null(strstr(json, "\"finished\": true"));
}

static void test_deadline(void **state)
{
    (void)state;
    /* 10 s is below every stage's minimum: each is skipped, none started */
    assert_int_equal(run_check("deadline", "GPU_CHECK_DEADLINE_S=10", ""), 0);
    char st[STATUS_CAP];
    const char *names[] = {"build", "checkpoint", "test_nn_cuda_ops", "bench", "pipeline",
                           "infer_share", "suite"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(stage_status(names[i], st), "skipped");
    assert_non_null(strstr(summary, "no time left"));
    assert_non_null(strstr(summary, "check finished"));
}

static void test_killed(void **state)
{
    (void)state;
    /* SIGTERM while test_nn_cuda_rfdetr "runs" */
    int rc = run_check("kill", "GPU_CHECK_SIMULATE_HANG=test_nn_cuda_rfdetr",
                       "& p=$!; for i in $(seq 600); do grep -qs test_nn_cuda_rfdetr "
                       "\"$TMPDIR/gpu-check-work/logs/running\" && break; sleep 0.1; done; "
                       "kill -TERM $p; wait $p");
    assert_int_equal(rc, 143);
    char st[STATUS_CAP];
    assert_string_equal(stage_status("test_nn_cuda_ops", st), "pass");
    assert_string_equal(stage_status("test_nn_cuda_rfdetr", st), "killed");
    assert_string_equal(stage_status("bench", st), "");
    assert_non_null(strstr(summary, "stopped by SIGTERM"));
    assert_null(strstr(summary, "check finished"));
    assert_non_null(strstr(json, "\"finished\": false"));
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ft-gpucheck-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128], buf[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return ft_test_run(cmd, buf, sizeof buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_and_timeout),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_killed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
