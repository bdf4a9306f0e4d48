"""
Resampled p-values with their Monte Carlo error, and enough resamples that no verdict depends on the draw.

A resampling test (a bootstrap over test examples, a paired permutation test) estimates p∞, the chance that
a resample of the data is at least as extreme as the data itself, from B resamples of which k are:
    p = (1 + k) / (B + 1)                                  (Phipson & Smyth 2010; k / B when every
                                                            permutation is enumerated: exact, no error)
Another resampler seed gives another k, so p carries a Monte Carlo error:
    se = sqrt(p(1 − p) / B)
    interval: the exact (Clopper–Pearson) 99.9% interval for p∞ from k of B, widened to hold p itself.

Resamples come in blocks of BLOCK. Block j of a test with resampler seed s is drawn from its own generator,
np.random.default_rng([s, j]), row by row, so that (1) a test grows from B to B' resamples by drawing
only the new blocks, (2) every test on the same source (the same test set, or the same number of timing
rounds) sees the same resamples: common random numbers across the comparisons of a table, and (3) the
draws do not depend on how a block is cut into chunks (numpy's Generator fills an (m, n) request from the
same stream as m requests of n).

`settle` is the rule for a family of tests that Holm's method corrects together (Holm 1979). A test's verdict
at α depends on its Holm-adjusted p; Holm's adjusted p is non-decreasing in every raw p, so the adjusted
values of the raw intervals' ends bracket it. While some adjusted interval holds α (lower end ≤ α < upper
end), the tests that put it there get more resamples, B doubling from `start` up to `cap`. A test still
holding α at the cap is *borderline*: reported as such, never as a verdict.

Why 99.9% and a cap of 4,000,000: drawing until an interval clears α is optional stopping, and an interval
that clears α by luck at some B stops the test there; and a test whose adjusted p lies within the interval's
width of α at the cap is borderline at some seeds and decided at others. On the 225-run grid (bench.compare
--preset minilm-table2 --report-only, 300 comparisons in Holm families of 75) at 99%, one NLL comparison was
decided at resampler seed 0 and borderline at seeds 1 and 2; at 99.9% with a cap of 1,000,000, three
comparisons were borderline at some of seeds 0-2 and decided at others; at 99.9% with 4,000,000 every
comparison gets the same verdict at seeds 0, 1 and 2, and none is borderline. The intervals are not
simultaneous: a verdict that a wider interval would have called borderline stays possible, and
`--resample-seed` checks it.

References: Phipson & Smyth 2010, "Permutation p-values should never be zero", Stat. Appl. Genet. Mol.
Biol. 9; Clopper & Pearson 1934, Biometrika 26; Gandy 2009, "Sequential implementation of Monte Carlo tests
with uniformly bounded resampling risk", JASA 104 (the idea of drawing until the verdict is clear).
"""

import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from bench.stats.multiple_testing import holm, stouffer

BLOCK = 10_000  # resamples per block
START, CAP = 10_000, 4_000_000  # resamples every test starts with; the most any test gets
LEVEL = 0.999  # the Monte Carlo interval's confidence
_CHUNK_ELEMENTS = 1 << 21  # numbers drawn at once (16 MiB of int64): bounds memory for any n
_KEEP_ELEMENTS = 1 << 25  # a block this small (in drawn numbers) is kept for the next test on its source


# -----------------------------------------------------------------------------
# sources of resamples


@dataclass(frozen=True)
class BootstrapCounts:
    """Resamples of n examples with replacement, as counts: row r, column i = how many times resample r drew
    example i, its n indices drawn as rng.integers(0, n, size=n, dtype=np.int32). A sum over the drawn
    examples is then a product, `counts @ d`, and one chunk of counts serves every test on this source."""

    n: int

    @property
    def width(self):
        return self.n

    def draw(self, rng, m):
        return counts(rng.integers(0, self.n, size=(m, self.n), dtype=np.int32), self.n)

    def exact(self):
        return None  # n^n resamples: never enumerated


def counts(idx, n):
    """(m, n) indices -> (m, n) float counts: counts[r, i] = how many times resample r drew example i."""
    m = len(idx)
    flat = (idx + n * np.arange(m, dtype=np.int64)[:, None]).ravel()  # resample r's draws land in row r
    return np.bincount(flat, minlength=m * n).reshape(m, n).astype(float)


@dataclass(frozen=True)
class SignFlips:
    """Paired permutations of `rounds` pairs: row r, column i = True when resample r swaps pair i's two values
    (rng.random(rounds) < 0.5 per resample). With 2^rounds <= START every pattern is enumerated instead."""

    rounds: int

    @property
    def width(self):
        return self.rounds

    def draw(self, rng, m):
        return rng.random((m, self.rounds)) < 0.5

    def exact(self):
        if 2 ** self.rounds > START:
            return None
        return np.array(list(itertools.product([False, True], repeat=self.rounds)))  # (2^rounds, rounds)


def _block_chunks(source, seed, j, stop):
    """Rows [0, stop) of block j, in chunks."""
    rng, size = np.random.default_rng([seed, j]), max(1, _CHUNK_ELEMENTS // source.width)
    for start in range(0, stop, size):
        yield source.draw(rng, min(size, stop - start))


@functools.lru_cache(maxsize=6)  # a report goes dataset by dataset: a few test sets' first blocks at once
def _kept_block(source, seed, j):
    chunks = tuple(_block_chunks(source, seed, j, BLOCK))
    for c in chunks:
        c.flags.writeable = False  # shared by every test on this source
    return chunks


def resamples(source, seed, start, stop):
    """The resamples [start, stop) of `source` under `seed`, as chunks of rows (see the module docstring)."""
    for j in range(start // BLOCK, -(-stop // BLOCK)):
        lo, hi = max(start - j * BLOCK, 0), min(stop - j * BLOCK, BLOCK)
        if source.width * BLOCK <= _KEEP_ELEMENTS:
            chunks = _kept_block(source, seed, j)
        else:
            chunks = _block_chunks(source, seed, j, hi)
        at = 0
        for c in chunks:
            a, b = max(lo - at, 0), min(hi - at, len(c))
            if a < b:
                yield c[a:b]
            at += len(c)
            if at >= hi:
                break


# -----------------------------------------------------------------------------
# one resampled test


def mc_interval(k, b, level=LEVEL):
    """Clopper–Pearson interval for p∞ from k extreme resamples of b."""
    tail = (1 - level) / 2
    lo = 0.0 if k == 0 else float(sps.beta.ppf(tail, k, b - k + 1))
    hi = 1.0 if k == b else float(sps.beta.ppf(1 - tail, k + 1, b - k))
    return lo, hi


class Resampled:
    """One resampling test: its source, its seed, and `extreme(chunk) -> bool (m,)`, which resamples of a chunk
    are at least as extreme as the data. k of B resamples so far; `grow(B)` draws more (or `grow_all`, for
    several tests at once, sharing the draws)."""

    def __init__(self, source, extreme, seed=0):
        self.source, self.extreme, self.seed = source, extreme, seed
        self.k, self.B, self.is_exact = 0, 0, False

    def grow(self, b):
        grow_all([self], b)
        return self

    @property
    def p(self):
        if self.B == 0:
            return math.nan
        return self.k / self.B if self.is_exact else (1 + self.k) / (self.B + 1)

    @property
    def se(self):
        return 0.0 if self.is_exact else math.sqrt(self.p * (1 - self.p) / self.B)

    def interval(self):
        """(p, low, high): the Monte Carlo interval of p (a point for an exact test)."""
        if self.is_exact or self.B == 0:
            return self.p, self.p, self.p
        lo, hi = mc_interval(self.k, self.B)
        return self.p, min(lo, self.p), max(hi, self.p)

    @property
    def leaves(self):
        return [self]


def grow_all(tests, b):
    """Bring every test to at least b resamples (exact tests: to their full enumeration), drawing each block of
    a shared source once for all the tests that need it."""
    groups = {}
    for t in tests:
        groups.setdefault((t.source, t.seed), []).append(t)
    for (source, seed), group in groups.items():
        table = source.exact()
        if table is not None:
            for t in group:
                if not t.is_exact:
                    t.k, t.B, t.is_exact = int(np.sum(t.extreme(table))), len(table), True
            continue
        start = min(t.B for t in group)
        at = start
        for chunk in resamples(source, seed, start, b):
            for t in group:
                new = max(t.B - at, 0)  # the rows of this chunk the test has not seen yet
                if new < len(chunk):
                    t.k += int(np.sum(t.extreme(chunk[new:])))
            at += len(chunk)
        for t in group:
            t.B = max(t.B, b)


# -----------------------------------------------------------------------------
# a family


@dataclass(frozen=True)
class Exact:
    """A test with an exact or analytic p (Welch, McNemar): a family member that never needs resamples."""

    p: float

    def interval(self):
        return self.p, self.p, self.p

    @property
    def leaves(self):
        return []


class Stouffer:
    """Stouffer's combination (multiple_testing.stouffer) of several members' two-sided p's, each with the
    direction its effect points, as one family member. For fixed directions the combined Z moves one way with
    each p, so the ends of the members' intervals give the ends of Z, and of the combined p (up to 1 when Z's
    range holds 0)."""

    def __init__(self, members, directions):
        self.members, self.directions = list(members), list(directions)

    def _z(self, pick):  # pick(low, high, direction) -> the p to use
        z = [d * sps.norm.isf(min(max(pick(lo, hi, d), 1e-300), 1.0) / 2)
             for (_, lo, hi), d in zip((m.interval() for m in self.members), self.directions, strict=True)]
        return sum(z) / math.sqrt(len(z))

    def interval(self):
        p = stouffer([(m.interval()[0], d) for m, d in zip(self.members, self.directions, strict=True)])[0]
        z_hi = self._z(lambda lo, hi, d: lo if d > 0 else hi)
        z_lo = self._z(lambda lo, hi, d: hi if d > 0 else lo)
        near, far = sorted((abs(z_lo), abs(z_hi)))
        p_hi = 1.0 if z_lo <= 0 <= z_hi else float(2 * sps.norm.sf(near))
        return p, min(p, float(2 * sps.norm.sf(far))), max(p, p_hi)

    @property
    def leaves(self):
        return [t for m in self.members for t in m.leaves]


def holm_intervals(members):
    """(p, lo, hi) arrays of the members' raw intervals, and Holm-adjusted (p, lo, hi) arrays."""
    raw = np.array([m.interval() for m in members], dtype=float).reshape(-1, 3)
    return raw, np.stack([holm(raw[:, i]) for i in range(3)], axis=1)


def straddles(adjusted, alpha):
    lo, hi = adjusted[:, 1], adjusted[:, 2]
    return (lo <= alpha) & (hi > alpha)


def _causes(raw, alpha):
    """Members whose own Holm-scaled interval (m − rank + 1) · [lo, hi] holds α: the ones that decide a
    straddling adjusted p."""
    valid = ~np.isnan(raw[:, 0])
    m = int(valid.sum())
    rank = np.empty(len(raw), dtype=int)
    order = np.flatnonzero(valid)[np.argsort(raw[valid, 0], kind="stable")]
    rank[order] = np.arange(m)
    scale = np.where(valid, m - rank, 0)
    return valid & (scale * raw[:, 1] <= alpha) & (scale * raw[:, 2] > alpha)


def settle(members, alpha, cap=CAP):
    """Draw until no member's Holm-adjusted interval holds α, or the tests that decide it reach `cap`.
    members: Resampled tests (or anything with interval() and leaves, such as Exact, or a combination of
    several Resampled tests). Returns the Holm-adjusted (p, lo, hi) array; `straddles` of it is borderline."""
    members = list(members)
    while True:
        raw, adjusted = holm_intervals(members)
        open_ = straddles(adjusted, alpha)
        if not open_.any():
            return adjusted
        causes = _causes(raw, alpha)
        if not causes.any():  # ranks that the intervals leave undecided: every member in the zone
            valid = ~np.isnan(raw[:, 0])
            causes = valid & (raw[:, 1] <= alpha) & (raw[:, 2] >= alpha / max(1, valid.sum()))
        leaves = {id(t): t for i in np.flatnonzero(causes) for t in members[i].leaves
                  if not t.is_exact and t.B < cap}
        if not leaves:
            return adjusted
        by_target = {}
        for t in leaves.values():
            by_target.setdefault(min(cap, 2 * t.B), []).append(t)
        for b, tests in by_target.items():
            grow_all(tests, b)


# -----------------------------------------------------------------------------
# the plan a report follows, and the rows of its tables


@dataclass(frozen=True)
class ResamplePlan:
    """How a report resamples: every test starts with `start` resamples from resampler seed `seed`, and a test
    a verdict depends on grows up to `cap` (settle)."""

    start: int = START
    seed: int = 0
    cap: int = CAP

    def describe(self):
        return (f"{self.start:,} resamples to start, doubled while a Holm verdict at α depends on the draw, up to "
                f"{self.cap:,} (bench/stats/monte_carlo.py); resampler seed {self.seed}")


def mc_se(p, b):
    """The Monte Carlo standard error of a p from b resamples (0 for an exact p: b = 0)."""
    return 0.0 if not b or math.isnan(p) else math.sqrt(p * (1 - p) / b)


def settled(rows, alpha, cap=CAP):
    """Comparison rows (bench/stats/multiple_testing.py) of one Holm family, their resampled p's (row.mc)
    settled together: p, its interval and n_resamples brought up to date. Rows without .mc keep their p."""
    members = [r.mc if r.mc is not None else Exact(r.p) for r in rows]
    settle(members, alpha, cap)
    out = []
    for r, m in zip(rows, members, strict=True):
        if r.mc is None:
            out.append(r)
            continue
        p, lo, hi = m.interval()
        out.append(dataclasses.replace(r, p=p, p_lo=lo, p_hi=hi, n_resamples=0 if m.is_exact else m.B))
    return out


DEFAULT_PLAN = ResamplePlan()
