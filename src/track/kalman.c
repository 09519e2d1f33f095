/* Constant-acceleration Kalman filter, run as two 3-state axis blocks. */
#include "track/kalman.h"

#include <math.h>
#include <string.h>

void ft_track_kalman_init(ft_track_kalman *k, double x, double y, double r, double v_var,
                          double a_var)
{
    memset(k, 0, sizeof(*k));
    k->s[0][0] = x;
    k->s[1][0] = y;
    for (int a = 0; a < 2; a++) {
        k->P[a][0][0] = r;
        k->P[a][1][1] = v_var;
        k->P[a][2][2] = a_var;
    }
}

void ft_track_kalman_predict(ft_track_kalman *k, double dt, double q)
{
    if (dt <= 0.0)
        return;
    const double dt2 = dt * dt, dt3 = dt2 * dt, dt4 = dt3 * dt, dt5 = dt4 * dt;
    const double F[3][3] = {{1.0, dt, 0.5 * dt2}, {0.0, 1.0, dt}, {0.0, 0.0, 1.0}};
    /* Discretised continuous white-jerk noise: Q = q * integral of
     * G(s) G(s)^T over the step, which is what makes it dt-consistent. */
    const double Q[3][3] = {{dt5 / 20.0, dt4 / 8.0, dt3 / 6.0},
                            {dt4 / 8.0, dt3 / 3.0, dt2 / 2.0},
                            {dt3 / 6.0, dt2 / 2.0, dt}};
    for (int a = 0; a < 2; a++) {
        double *s = k->s[a];
        const double p = s[0] + dt * s[1] + 0.5 * dt2 * s[2];
        const double v = s[1] + dt * s[2];
        s[0] = p;
        s[1] = v;
        double FP[3][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                FP[i][j] =
                    F[i][0] * k->P[a][0][j] + F[i][1] * k->P[a][1][j] + F[i][2] * k->P[a][2][j];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                k->P[a][i][j] =
                    FP[i][0] * F[j][0] + FP[i][1] * F[j][1] + FP[i][2] * F[j][2] + q * Q[i][j];
    }
}

double ft_track_kalman_distance2(const ft_track_kalman *k, double zx, double zy, double r)
{
    const double ex = zx - k->s[0][0], ey = zy - k->s[1][0];
    return ex * ex / (k->P[0][0][0] + r) + ey * ey / (k->P[1][0][0] + r);
}

double ft_track_kalman_pos_std(const ft_track_kalman *k)
{
    return sqrt(fmax(k->P[0][0][0], k->P[1][0][0]));
}

double ft_track_kalman_update(ft_track_kalman *k, double zx, double zy, double r)
{
    const double z[2] = {zx, zy};
    double nis = 0.0;
    for (int a = 0; a < 2; a++) {
        double(*P)[3] = k->P[a];
        double *s = k->s[a];
        const double e = z[a] - s[0];
        const double S = P[0][0] + r;
        nis += e * e / S;
        double K[3];
        for (int i = 0; i < 3; i++)
            K[i] = P[i][0] / S;
        for (int i = 0; i < 3; i++)
            s[i] += K[i] * e;
        /* Joseph form P = (I - K H) P (I - K H)^T + K r K^T keeps P symmetric
         * positive definite under rounding, unlike P - K H P. With H = [1 0 0],
         * A = I - K H differs from I only in column 0. */
        double A[3][3] = {{1.0 - K[0], 0.0, 0.0}, {-K[1], 1.0, 0.0}, {-K[2], 0.0, 1.0}};
        double AP[3][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                AP[i][j] = A[i][0] * P[0][j] + A[i][1] * P[1][j] + A[i][2] * P[2][j];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                P[i][j] =
                    AP[i][0] * A[j][0] + AP[i][1] * A[j][1] + AP[i][2] * A[j][2] + K[i] * r * K[j];
    }
    return nis;
}
