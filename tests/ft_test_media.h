/* Helpers shared by the tests that write media files into a scratch
 * directory and read them back (io round trips, pipeline batch runs). */
#ifndef FT_TEST_MEDIA_H
#define FT_TEST_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "io/reader.h"

/* What reading a file back to its end found. */
typedef struct ft_test_readback {
    int frames, audio_packets, size_changes;
    double first_pts, last_pts, last_audio_pts; /* seconds, as the reader gives them */
    int width, height;                          /* of the last video frame */
    bool monotonic, has_audio;                  /* monotonic: video pts strictly increase */
    int64_t corrupt;                            /* ft_reader_corrupt_packets at the end */
} ft_test_readback;

/* Called for each item read: frame (on FT_READER_VIDEO) or pkt (on
 * FT_READER_AUDIO), both borrowed for the call, and its time in seconds. */
typedef void (*ft_test_item_fn)(void *user, ft_reader_item kind, const struct AVFrame *frame,
                                const struct AVPacket *pkt, double pts);

/* Reads path (borrowed) to its end with the CPU reader into *rb, skipping
 * audio unless with_audio, and calls on_item (NULL: none) for each item read.
 * Fails the test when the file cannot be opened or a read fails before the
 * end. */
void ft_test_read_each(const char *path, bool with_audio, ft_test_item_fn on_item, void *user,
                       ft_test_readback *rb);

/* ft_test_read_each with audio and no callback. */
void ft_test_read_all(const char *path, ft_test_readback *rb);

/* Appends the bytes of file src to file dst (both borrowed; dst is created
 * when absent): byte-concatenated MPEG-TS clips. Fails the test on error. */
void ft_test_append_file(const char *dst, const char *src);

/* Removes every entry of directory dir except the one named keep (NULL:
 * none). Both borrowed. */
void ft_test_dir_clear(const char *dir, const char *keep);

#endif
