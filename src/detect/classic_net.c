/* The learned second stage of the default detector; see classic_net.h.
 * Layers: 3x3 convolution (3 -> 8 channels), ReLU, 2x2 max pooling, 3x3
 * convolution (8 -> 16), ReLU, 2x2 max pooling, fully connected (those 256
 * values and the 16 hand-made features) -> 16, ReLU, fully connected 16 -> 1. The layout and the
 * input scaling must match tools/classic_net/train_classic_net.py, which trains it. */
#include "detect/classic_net.h"

#include "detect/filters.h"

/* Input scaling (as in the trainer): luma around mid-grey, chroma around
 * neutral; chroma differences are small, hence the larger gain. */
#define NET_Y_MID 128.f
#define NET_Y_SCALE (1.f / 64.f)
#define NET_C_SCALE (1.f / 16.f)

void ft_detect_classic_net_sample(const ft_image *im, float cx, float cy, float scale,
                                  ft_classic_net_patch *out)
{
    const float half = (float)(FT_CLASSIC_NET_PATCH - 1) * 0.5f;
    for (int r = 0; r < FT_CLASSIC_NET_PATCH; r++) {
        int y = (int)(cy + ((float)r - half) * scale + 0.5f);
        for (int k = 0; k < FT_CLASSIC_NET_PATCH; k++) {
            int x = (int)(cx + ((float)k - half) * scale + 0.5f);
            uint8_t yuv[3];
            ft_detect_sample_yuv(im, x, y, yuv);
            out->px[0][r][k] = yuv[0];
            out->px[1][r][k] = yuv[1];
            out->px[2][r][k] = yuv[2];
        }
    }
}

static float relu(float v)
{
    return v > 0.f ? v : 0.f;
}

/* One layer: 3x3 convolution without padding (cin planes of side x side ->
 * cout planes of side - 2), ReLU and 2x2 max pooling into `out` (cout
 * planes of (side - 2) / 2). `w` is [cout][cin][3][3]; `conv` holds one
 * output plane. The buffers never overlap (restrict): without that promise
 * gcc does not vectorise the row loops and the detector loses about 10 %
 * of its speed (bench detector). */
static inline void conv3x3_relu_pool(const float *restrict in, int cin, int side,
                                     const float *restrict w, const float *restrict b, int cout,
                                     float *restrict conv, float *restrict out)
{
    const int s = side - 2, h = s / 2;
    for (int o = 0; o < cout; o++) {
        for (int i = 0; i < s * s; i++)
            conv[i] = b[o];
        for (int i = 0; i < cin; i++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    const float wv = w[((o * cin + i) * 3 + ky) * 3 + kx];
                    const float *src = in + (i * side + ky) * side + kx;
                    for (int y = 0; y < s; y++)
                        for (int x = 0; x < s; x++)
                            conv[y * s + x] += wv * src[y * side + x];
                }
        /* ReLU and max pooling commute: pool first, then clamp. */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < h; x++) {
                const float *r0 = conv + 2 * y * s + 2 * x, *r1 = r0 + s;
                float m = r0[0] > r0[1] ? r0[0] : r0[1], n = r1[0] > r1[1] ? r1[0] : r1[1];
                out[(o * h + y) * h + x] = relu(m > n ? m : n);
            }
    }
}

float ft_detect_classic_net_run(const ft_classic_net_weights *w, const ft_classic_net_patch *patch,
                                const float extra[FT_CLASSIC_NET_EXTRA], ft_classic_net_buf *buf)
{
    enum { P = FT_CLASSIC_NET_PATCH, P1 = FT_CLASSIC_NET_P1 };
    for (int r = 0; r < P; r++)
        for (int k = 0; k < P; k++) {
            buf->in[0][r][k] = ((float)patch->px[0][r][k] - NET_Y_MID) * NET_Y_SCALE;
            buf->in[1][r][k] = ((float)patch->px[1][r][k] - 128.f) * NET_C_SCALE;
            buf->in[2][r][k] = ((float)patch->px[2][r][k] - 128.f) * NET_C_SCALE;
        }

    conv3x3_relu_pool(&buf->in[0][0][0], FT_CLASSIC_NET_IN, P, &w->conv1_w[0][0][0][0], w->conv1_b,
                      FT_CLASSIC_NET_C1, buf->conv, &buf->p1[0][0][0]);
    conv3x3_relu_pool(&buf->p1[0][0][0], FT_CLASSIC_NET_C1, P1, &w->conv2_w[0][0][0][0], w->conv2_b,
                      FT_CLASSIC_NET_C2, buf->conv, buf->flat);
    for (int k = 0; k < FT_CLASSIC_NET_EXTRA; k++)
        buf->flat[FT_CLASSIC_NET_FLAT + k] = extra[k];
    float z = w->fc2_b;
    for (int u = 0; u < FT_CLASSIC_NET_HIDDEN; u++) {
        float s = 0.f;
        for (int k = 0; k < FT_CLASSIC_NET_FLAT + FT_CLASSIC_NET_EXTRA; k++)
            s += w->fc1_w[u][k] * buf->flat[k];
        buf->hidden[u] = relu(s + w->fc1_b[u]);
        z += w->fc2_w[u] * buf->hidden[u];
    }
    return z;
}
