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

float ft_detect_classic_net_run(const ft_classic_net_weights *w, const ft_classic_net_patch *patch,
                                const float extra[FT_CLASSIC_NET_EXTRA], ft_classic_net_buf *buf)
{
    enum { P = FT_CLASSIC_NET_PATCH, S1 = FT_CLASSIC_NET_S1, P1 = FT_CLASSIC_NET_P1 };
    enum { S2 = FT_CLASSIC_NET_S2, P2 = FT_CLASSIC_NET_P2 };
    for (int r = 0; r < P; r++)
        for (int k = 0; k < P; k++) {
            buf->in[0][r][k] = ((float)patch->px[0][r][k] - NET_Y_MID) * NET_Y_SCALE;
            buf->in[1][r][k] = ((float)patch->px[1][r][k] - 128.f) * NET_C_SCALE;
            buf->in[2][r][k] = ((float)patch->px[2][r][k] - 128.f) * NET_C_SCALE;
        }

    /* Convolutions as shifted multiply-adds over whole rows: the innermost
     * loop runs over a row of fixed length, which gcc vectorises. */
    for (int o = 0; o < FT_CLASSIC_NET_C1; o++) {
        for (int y = 0; y < S1; y++)
            for (int x = 0; x < S1; x++)
                buf->c1[o][y][x] = w->conv1_b[o];
        for (int i = 0; i < FT_CLASSIC_NET_IN; i++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    float wv = w->conv1_w[o][i][ky][kx];
                    for (int y = 0; y < S1; y++)
                        for (int x = 0; x < S1; x++)
                            buf->c1[o][y][x] += wv * buf->in[i][y + ky][x + kx];
                }
        /* ReLU and max pooling commute: pool first, then clamp. */
        for (int y = 0; y < P1; y++)
            for (int x = 0; x < P1; x++) {
                float a = buf->c1[o][2 * y][2 * x], b = buf->c1[o][2 * y][2 * x + 1];
                float c = buf->c1[o][2 * y + 1][2 * x], d = buf->c1[o][2 * y + 1][2 * x + 1];
                float m = a > b ? a : b, n = c > d ? c : d;
                buf->p1[o][y][x] = relu(m > n ? m : n);
            }
    }
    for (int o = 0; o < FT_CLASSIC_NET_C2; o++) {
        for (int y = 0; y < S2; y++)
            for (int x = 0; x < S2; x++)
                buf->c2[o][y][x] = w->conv2_b[o];
        for (int i = 0; i < FT_CLASSIC_NET_C1; i++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    float wv = w->conv2_w[o][i][ky][kx];
                    for (int y = 0; y < S2; y++)
                        for (int x = 0; x < S2; x++)
                            buf->c2[o][y][x] += wv * buf->p1[i][y + ky][x + kx];
                }
        for (int y = 0; y < P2; y++)
            for (int x = 0; x < P2; x++) {
                float a = buf->c2[o][2 * y][2 * x], b = buf->c2[o][2 * y][2 * x + 1];
                float c = buf->c2[o][2 * y + 1][2 * x], d = buf->c2[o][2 * y + 1][2 * x + 1];
                float m = a > b ? a : b, n = c > d ? c : d;
                buf->flat[(o * P2 + y) * P2 + x] = relu(m > n ? m : n);
            }
    }
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
