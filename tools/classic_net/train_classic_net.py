#!/usr/bin/python3
"""Trains the default detector's learned scorer (src/detect/classic_net.h).

Development only (docs/detector.md, "The learned scorer"); needs Debian's
python3-torch and python3-numpy. Input: the training set written by
tools/classic_net/make_dataset.sh (DIR/*.csv truth, DIR/dump/*.bin candidate
records from FT_CLASSIC_DUMP). Steps:
  1. label each dumped candidate: the ball is visible and lies within 8 px;
  2. train the network (ball or not) on the candidates the detector shows it
     (the NET_TOP best by hand-made logit of each frame), with brightness,
     colour and mirror augmentation, on the training clips;
  3. fit how its clamped logit joins the hand-made one (weight and offset)
     by maximum likelihood of the detector's conditional logit model over
     whole frames ("this candidate, another, or no ball"); negatives are
     subsampled for speed (all of ranks 0-1, the hardest), which shifts the
     network's logit by a constant that the fitted offset takes up;
  4. print frame-level recall / precision (best candidate >= 0.25 within 8 px)
     of the hand-made model and the combined one on the validation clips;
  5. with --out, refit the weight and offset on all clips and write the
     network and them as C source.

  python3 tools/classic_net/train_classic_net.py train-classic-net \\
      --out src/detect/classic_net_weights.c
"""
import argparse
import csv
import glob
import os
import sys

import numpy as np
import torch
from torch import nn

N_FEATURES = 18
PATCH = 22
NET_TOP = 16         # classic.c: candidates per frame the network looks at
DUMP_TOP = 24        # classic.c: ranks from here on are local_search's extra candidates
CLAMP = 8.0          # the network's logit is clamped to [-CLAMP, CLAMP]
STILL = ('wide', 'night')  # scenarios with a still camera (classic.c: NET_STILL_FRAMES)
RADIUS = 8.0         # a candidate this close to a visible ball is the ball
# classic.c: the hand-made features fed to the network (all but F_BIAS = 0
# and F_TRACK = 9)
EXTRA = [k for k in range(1, N_FEATURES) if k != 9]
REC = np.dtype([('pts', '<f4'), ('cx', '<f4'), ('cy', '<f4'), ('hand', '<f4'),
                ('net', '<f4'), ('rank', '<i4'), ('w', '<i4'), ('h', '<i4'),
                ('nf', '<i4'), ('feat', '<f4', (N_FEATURES,)),
                ('patch', 'u1', (3, PATCH, PATCH))])
assert REC.itemsize == 1560  # classic.c: dump_record


def read_truth(path):
    with open(path) as f:
        lines = [ln for ln in f if not ln.startswith('#')]
    rows = list(csv.DictReader(lines))
    pts = np.array([float(r['pts']) for r in rows])
    xy = np.array([[float(r['x']), float(r['y'])] for r in rows])
    vis = np.array([r['visibility'] == 'visible' for r in rows])
    return pts, xy, vis


def load(dirname):
    """All records, with per-record clip id, frame id (global) and label."""
    recs, clip, frame, label, names = [], [], [], [], []
    fbase = 0
    for ci, path in enumerate(sorted(glob.glob(os.path.join(dirname, 'dump', '*.bin')))):
        name = os.path.basename(path)[:-4]
        pts, xy, vis = read_truth(os.path.join(dirname, name + '.csv'))
        r = np.fromfile(path, REC)
        if len(r) == 0:
            continue
        assert (r['nf'] == N_FEATURES).all(), path
        fi = np.clip(np.searchsorted(pts, r['pts'] - 1e-3), 0, len(pts) - 1)
        d = np.hypot(r['cx'] - xy[fi, 0], r['cy'] - xy[fi, 1])
        recs.append(r)
        clip.append(np.full(len(r), ci))
        frame.append(fi + fbase)
        label.append(vis[fi] & (d <= RADIUS))
        names.append(name)
        fbase += len(pts)
    recs = np.concatenate(recs)
    return recs, np.concatenate(clip), np.concatenate(frame), np.concatenate(label), names


def visible_frames(dirname, names):
    """Per clip: the number of frames with a visible ball and the frame base."""
    out, fbase = [], 0
    for name in names:
        pts, _, vis = read_truth(os.path.join(dirname, name + '.csv'))
        out.append((int(vis.sum()), fbase, len(pts)))
        fbase += len(pts)
    return out


class Net(nn.Module):
    """The layout of classic_net.c (pooling before ReLU there: the same)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.fc1 = nn.Linear(16 * 4 * 4 + len(EXTRA), 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x, feat):
        x = torch.relu(nn.functional.max_pool2d(self.conv1(x), 2))
        x = torch.relu(nn.functional.max_pool2d(self.conv2(x), 2))
        x = torch.relu(self.fc1(torch.cat([x.flatten(1), feat], 1)))
        return self.fc2(x).squeeze(1)


def to_input(patch, augment, gen):
    """uint8 (N, 3, P, P) -> float, scaled as in classic_net.c."""
    x = torch.from_numpy(patch).float()
    if augment:
        n = x.shape[0]
        g = 0.75 + 0.5 * torch.rand(n, 1, 1, generator=gen)
        o = -20 + 40 * torch.rand(n, 1, 1, generator=gen)
        x[:, 0] = (x[:, 0] - 128) * g + 128 + o
        for c in (1, 2):
            gc = 0.7 + 0.6 * torch.rand(n, 1, 1, generator=gen)
            oc = -6 + 12 * torch.rand(n, 1, 1, generator=gen)
            x[:, c] = (x[:, c] - 128) * gc + 128 + oc
        x += 3 * torch.randn(x.shape, generator=gen)
        flip = torch.rand(n, generator=gen) < 0.5
        x[flip] = x[flip].flip(3)
    y = (x[:, 0:1] - 128) / 64
    uv = (x[:, 1:3] - 128) / 16
    return torch.cat([y, uv], 1)


def train_net(patch, feat, label, epochs, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    lab = torch.from_numpy(label.astype(np.float32))
    feat = torch.from_numpy(feat)
    n = len(label)
    for ep in range(epochs):
        perm = torch.randperm(n, generator=gen)
        tot = 0.0
        for i in range(0, n, 256):
            idx = perm[i:i + 256].numpy()
            x = to_input(patch[idx], True, gen)
            loss = nn.functional.binary_cross_entropy_with_logits(net(x, feat[idx]), lab[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
        sched.step()
        print(f'  epoch {ep + 1}/{epochs}: loss {tot / n:.4f}', file=sys.stderr)
    return net


def net_logits(net, patch, feat):
    out = []
    feat = torch.from_numpy(feat)
    with torch.no_grad():
        for i in range(0, len(patch), 2048):
            out.append(net(to_input(patch[i:i + 2048], False, None), feat[i:i + 2048]))
    return torch.cat(out).numpy()


def judged(recs):
    """classic.c's net_domain, among the NET_TOP best or local_search's
    candidates (which continuity_prior judges): moving (F_MOTION = 5) and at
    most four times the prior size (F_LARGE = 7); the overlay evidence it
    also checks is not in the dump (a few overlay clips)."""
    f = recs['feat']
    place = (recs['rank'] < NET_TOP) | (recs['rank'] >= DUMP_TOP)
    return place & (f[:, 5] >= 0.5) & (f[:, 7] <= 2.0)


def frame_table(frame, rank, hand, net, label, judge):
    """(frames, DUMP_TOP) matrices: hand logit, network logit (clamped), label,
    presence, judged by the network."""
    keys, inv = np.unique(frame, return_inverse=True)
    k = int(rank.max()) + 1
    H = np.zeros((len(keys), k), np.float32)
    N = np.zeros((len(keys), k), np.float32)
    L = np.zeros((len(keys), k), bool)
    M = np.zeros((len(keys), k), bool)
    G = np.zeros((len(keys), k), bool)
    H[inv, rank] = hand
    N[inv, rank] = np.clip(net, -CLAMP, CLAMP)
    L[inv, rank] = label
    M[inv, rank] = True
    G[inv, rank] = judge
    return H, N, L, M, G


def combine(H, N, G, p):
    """classic.c's final logit: hand + net_weight * net where the network
    judged, else hand. No offset: a network that cannot tell (logit 0, as on
    much of the real footage) leaves the hand-made logit as it is."""
    if isinstance(H, torch.Tensor):
        return torch.where(G, H + p[0] * N, H)
    return np.where(G, H + p[0] * N, H)


def fit_combination(H, N, L, M, G):
    """The weight of the network's logit, by maximum likelihood of the
    conditional logit."""
    H, N, L, M, G = (torch.from_numpy(a) for a in (H, N, L, M, G))
    p = torch.tensor([0.5], requires_grad=True)
    opt = torch.optim.LBFGS([p], max_iter=200, line_search_fn='strong_wolfe')
    has = L.any(1)

    def nll():
        opt.zero_grad()
        z = torch.where(M, combine(H, N, G, p), torch.tensor(-1e9))
        den = torch.logsumexp(torch.cat([torch.zeros(len(z), 1), z], 1), 1)
        num = torch.where(has, torch.logsumexp(torch.where(L, z, torch.tensor(-1e9)), 1),
                          torch.zeros(len(z)))
        loss = (den - num).mean()
        loss.backward()
        return loss

    opt.step(nll)
    return [float(v) for v in p]


def frame_scores(z, L, M, n_visible):
    """Recall / precision as the eval suite counts them (best candidate
    >= 0.25 within 8 px of a visible ball)."""
    z = np.where(M, z, -1e9)
    e = np.exp(z - np.maximum(z.max(1, keepdims=True), 0))
    conf = e / (np.exp(-np.maximum(z.max(1, keepdims=True), 0)) + e.sum(1, keepdims=True))
    best = conf.argmax(1)
    found = conf[np.arange(len(z)), best] >= 0.25
    hit = found & L[np.arange(len(z)), best]
    return hit.sum() / max(n_visible, 1), hit.sum() / max(found.sum(), 1)


def c_array(a):
    if a.ndim == 1:
        return '{' + ', '.join(f'{v:.8g}f' for v in a.tolist()) + '}'
    return '{' + ',\n'.join(c_array(s) for s in a) + '}'


def write_c(path, net, comb, command):
    sd = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    with open(path, 'w') as f:
        f.write('/* Generated by tools/classic_net/train_classic_net.py: do not edit.\n'
                ' * Regenerate with (docs/detector.md, "The learned scorer")\n'
                f' *   {command}\n'
                ' */\n'
                '#include "detect/classic_net.h"\n\n'
                'const ft_classic_net_weights ft_classic_net_trained = {\n')
        f.write(f'    .conv1_w = {c_array(sd["conv1.weight"])},\n')
        f.write(f'    .conv1_b = {c_array(sd["conv1.bias"])},\n')
        f.write(f'    .conv2_w = {c_array(sd["conv2.weight"])},\n')
        f.write(f'    .conv2_b = {c_array(sd["conv2.bias"])},\n')
        f.write(f'    .fc1_w = {c_array(sd["fc1.weight"])},\n')
        f.write(f'    .fc1_b = {c_array(sd["fc1.bias"])},\n')
        f.write(f'    .fc2_w = {c_array(sd["fc2.weight"][0])},\n')
        f.write(f'    .fc2_b = {float(sd["fc2.bias"][0]):.8g}f,\n')
        f.write(f'    .net_weight = {comb[0]:.6g}f,\n')
        f.write(f'    .net_clamp = {CLAMP:.1f}f,\n')
        f.write('};\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('dir', help='training set (make_dataset.sh)')
    ap.add_argument('--epochs', type=int, default=6)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--neg-ratio', type=float, default=3.0,
                    help='negatives per positive kept for training the network')
    ap.add_argument('--out', help='write the C weights here')
    args = ap.parse_args()
    torch.set_num_threads(2)

    recs, clip, frame, label, names = load(args.dir)
    vis = visible_frames(args.dir, names)
    # Validation: every fifth clip (by name order: all scenarios).
    val_clip = np.arange(len(names)) % 5 == 4
    is_val = val_clip[clip]
    seen = judged(recs)
    print(f'{len(names)} clips, {len(recs)} candidates, {int(label.sum())} on the ball; '
          f'validation: {", ".join(n for n, v in zip(names, val_clip) if v)}', file=sys.stderr)
    feat = np.ascontiguousarray(recs['feat'][:, EXTRA])
    tr = seen & ~is_val
    rng = np.random.default_rng(args.seed)
    n_pos = int((tr & label).sum())
    easy = tr & ~label & (recs['rank'] >= 2)
    hard = tr & ~label & (recs['rank'] < 2)
    keep = max(0, int(args.neg_ratio * n_pos) - int(hard.sum()))
    keep_p = min(1.0, keep / max(int(easy.sum()), 1))
    tr = (tr & label) | hard | (easy & (rng.random(len(recs)) < keep_p))
    print(f'training on {int(tr.sum())} candidates ({n_pos} on the ball)', file=sys.stderr)
    net = train_net(recs['patch'][tr], feat[tr], label[tr], args.epochs, args.seed)
    logit = net_logits(net, recs['patch'], feat)
    # The detector lets the network judge only while the camera stands
    # still; among the synthetic scenarios, wide and night.
    still = np.array([n.split('-')[0] in STILL for n in names])
    judge = judged(recs) & still[clip]
    for part, sel in (('train', ~is_val), ('validation', is_val)):
        H, N, L, M, G = frame_table(frame[sel], recs['rank'][sel], recs['hand'][sel],
                                    logit[sel], label[sel], judge[sel])
        if part == 'train':
            comb = fit_combination(H, N, L, M, G)
            print('combination: hand + %.3f * net' % tuple(comb), file=sys.stderr)
        nv = sum(v[0] for v, s in zip(vis, val_clip) if s == (part == 'validation'))
        r0, p0 = frame_scores(H, L, M, nv)
        r1, p1 = frame_scores(combine(H, N, G, comb), L, M, nv)
        print(f'{part}: as dumped recall {r0:.3f} precision {p0:.3f}; '
              f'with the network {r1:.3f} / {p1:.3f}', file=sys.stderr)
    if args.out:
        H, N, L, M, G = frame_table(frame, recs['rank'], recs['hand'], logit, label, judge)
        comb = fit_combination(H, N, L, M, G)
        print('all clips: hand + %.3f * net' % tuple(comb), file=sys.stderr)
        opts = ''.join(f' --{k.replace("_", "-")} {getattr(args, k):g}'
                       for k, d in (('epochs', 6), ('seed', 1), ('neg_ratio', 3.0))
                       if getattr(args, k) != d)
        cmd = ('python3 tools/classic_net/train_classic_net.py train-classic-net'
               f'{opts} --out src/detect/classic_net_weights.c')
        write_c(args.out, net, comb, 'tools/classic_net/make_dataset.sh BUILD/football-tracker '
                'train-classic-net\n *   ' + cmd)


if __name__ == '__main__':
    main()
