"""Which printed cells are wrong, and what they should hold: error localisation (Fellegi–Holt).

A finding says which identity a report breaks; the auditor's notice needs the cell. For a report that
breaks an arithmetic rule of 表三 or 表四 (R1–R4, R7, or R5's non-negativity), the localisation is the
smallest set of printed cells whose change makes every identity and inequality of the report hold,
counts staying non-negative integers and blank cells unknown (free, never proposed): the generalised
Fellegi–Holt principle, solved the way Statistics Netherlands' errorlocate solves it.

Blocks. Rules that share no cell are independent: 表三's identities form one block, each group of 表四
its own. A report's solutions are the product of its broken blocks' solutions.

Per broken block, cheapest first:
1. One cell. Every cell of a broken rule is tried with the value its equalities force. When one or
   more cells alone repair the block, they are exactly the minimal sets: no solver. That covers a
   block with one broken identity and every typing error.
2. Otherwise a mixed-integer program, solved by HiGHS through scipy.optimize.milp: a binary z_c per
   printed cell, |x_c - p_c| <= M z_c, minimise sum w_c z_c; the tied sets are enumerated with no-good
   cuts at the same number of cells.

Ties. Every set of the smallest size is listed (up to MAX_SOLUTIONS), cheapest first, then a
recognised typing error first. The cheapest is the answer when it is cheaper than every other: that
is the weighted principle (a 表四 total printed 0 over a row of 5 is the total, not the row). When
several sets cost the same, the report is ambiguous and says so: none is picked silently. The dearer
sets of the same size stay listed as alternatives, so that no repair the rules allow is hidden.

Weights (the cost of declaring a cell wrong): TOTAL_WEIGHT for a total (a cell that is the single
left side of an identity: (七)总计, the 总计 column, 表四's 总计), DETAIL_WEIGHT for any other. Totals
are typed by hand after the details are counted, and break more often, so they are the cheaper
culprit. The gap is kept small, so that weights only rank sets of the same size: two totals never
outweigh one detail. benchmarks/localise.py measures the ranking on synthetic errors.

Recognised errors (deducorrect's): when the printed value is one such step from the value that
repairs everything, the change says so: `sign` (-v printed for v), `swap` (two adjacent digits
exchanged), `typo` (one digit wrong, missing or extra, in a number of two digits or more),
`omission` (a total that left out one of its rows), `copy` (a total printed with the value of another
cell of its row or column). Otherwise `fellegi-holt`.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache

import numpy as np
import pyarrow as pa

from . import rules as R
from . import schema as S
from .cells import fmt, label
from .datafolder import values_of
from .kinds.identity import effective_right

# Rule families whose failure asks for a localisation, and the tables they check.
FAMILIES = ("R1", "R2", "R3", "R4", "R5", "R7")
TABLES = ("applications", "review_litigation")
MAX_SOLUTIONS = 5  # tied sets listed per report
TOTAL_WEIGHT, DETAIL_WEIGHT = 0.9, 1.0
SOLVER_SECONDS = 2.0  # per solve; a 表三 block with a few wrong cells solves in about 10 ms
# Fellegi–Holt locates a few errors among many right cells. A block needing more changes than this is a
# misread or garbled table, not a typing slip: it is left unlocated (and the solver is not asked).
MAX_CELLS = 5
BLOCK_SECONDS = 5.0  # the solver's budget for one block, enumeration and value ranges included

TYPO, SWAP, SIGN, COPY, OMISSION, FELLEGI_HOLT = "typo", "swap", "sign", "copy", "omission", "fellegi-holt"
KIND_ZH = {
    TYPO: "疑似数字输错",
    SWAP: "疑似数字颠倒",
    SIGN: "疑似正负号错误",
    COPY: "疑似照抄了同行或同列的数字",
    OMISSION: "疑似合计漏加了一行",
    FELLEGI_HOLT: "使全部勾稽关系成立的最少改动",
}

OFF_ENV = "NIANBAO_LOCALISE"  # "off": no localisation (the benchmark's baseline)


def disabled() -> bool:
    """Whether this process localises no report (NIANBAO_LOCALISE=off)."""
    return os.environ.get(OFF_ENV, "").lower() == "off"


DIAGNOSES_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("report_id", pa.string()),
        pa.field("solution", pa.int32()),  # 1, 2, … for equally small sets, most likely first
        pa.field("solutions", pa.int32()),  # how many sets are listed for the report
        pa.field("ambiguous", pa.bool_()),  # several sets share the smallest weighted cost
        pa.field("capped", pa.bool_()),  # more sets of the smallest size exist than are listed
        pa.field("best", pa.bool_()),  # this set has the smallest weighted cost (else: an alternative of the same size)
        pa.field("table", pa.string()),
        pa.field("cell", pa.string()),  # data-contract column, e.g. total_person
        pa.field("printed", pa.int64()),
        pa.field("proposed", pa.int64()),  # null when the rules leave the value open
        pa.field("proposed_min", pa.int64()),
        pa.field("proposed_max", pa.int64()),  # null: no upper bound
        pa.field("weight", pa.float64()),
        pa.field("kind", pa.string()),  # typo | swap | sign | copy | omission | fellegi-holt
        pa.field("solver", pa.bool_()),  # the MIP solver was needed (no single cell repairs a block)
    ]
)


@dataclass(frozen=True, eq=False)  # identity hash: blocks are built once per format version
class Block:
    """Rules of one table that share cells, localised together."""

    table: str
    rules: tuple[R.Rule, ...]

    @cached_property
    def operands(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for r in self.rules for c in r.operands))


@dataclass(frozen=True)
class Change:
    """One cell of a solution: printed, and the value that repairs the report (or its range)."""

    table: str
    cell: str
    printed: int
    proposed: int | None
    low: int
    high: int | None
    weight: float
    kind: str


@dataclass
class Diagnosis:
    """A report's minimal sets of cells to change, most likely first."""

    report_id: str
    solutions: list[tuple[Change, ...]]  # every set of the smallest size, cheapest first
    capped: bool = False  # more sets of that size exist than are listed
    solver: bool = False  # a block needed the MIP solver

    @cached_property
    def best(self) -> int:
        """How many sets share the smallest weighted cost (listed first)."""
        return sum(_cost(s) == _cost(self.solutions[0]) for s in self.solutions)

    @property
    def ambiguous(self) -> bool:
        return self.best > 1 or (self.capped and self.best == len(self.solutions))

    def likely(self) -> dict[str, int | None]:
        """Cells of the cheapest sets -> the value they should hold (None when the sets disagree or
        the rules leave it open)."""
        out: dict[str, int | None] = {}
        for solution in self.solutions[: self.best]:
            for c in solution:
                out[c.cell] = c.proposed if out.get(c.cell, c.proposed) == c.proposed else None
        return out


# --- the model --------------------------------------------------------------------------------------


def localised_rule(rule_id: str) -> bool:
    """A failure of this rule asks for a localisation."""
    rule = R.RULES_BY_ID.get(rule_id)
    return rule is not None and rule.family in FAMILIES and rule.table in TABLES


@cache
def blocks(version: str) -> tuple[Block, ...]:
    """The identities (==, <=) of 表三 and 表四 in `version`, split into blocks that share no cell."""
    out = []
    for suite, (table, v) in R.SUITES.items():
        if table not in TABLES or v not in (None, version):
            continue
        rules = [r for r in R.rules_for_suite(suite) if r.kind == "identity" and r.family in FAMILIES]
        groups: list[tuple[set[str], list[R.Rule]]] = []
        for rule in rules:
            touching = [g for g in groups if g[0] & set(rule.operands)]
            cells, members = set(rule.operands), [rule]
            for g in touching:
                cells |= g[0]
                members = g[1] + members
                groups.remove(g)
            groups.append((cells, members))
        out += [Block(table, tuple(sorted(m, key=rules.index))) for _, m in groups]
    return tuple(out)


@cache
def totals() -> frozenset[str]:
    """Cells that are the single left side of an equality: the printed totals."""
    return frozenset(r.left[0] for r in R.RULES if r.kind == "identity" and r.op == "==" and len(r.left) == 1)


def default_weight(cell: str) -> float:
    """The cost of declaring `cell` wrong: totals are the likelier culprits."""
    return TOTAL_WEIGHT if cell in totals() else DETAIL_WEIGHT


@dataclass
class _System:
    """One block of one report as linear constraints: A x (== or <=) 0 over its cells."""

    table: str
    cells: tuple[str, ...]
    a: np.ndarray  # rules x cells
    eq: np.ndarray  # bool per rule: == (else <=)
    whole: np.ndarray  # bool per rule: no blank operand (a rule with one is not assessable)
    blanks: bool  # some operand is blank
    printed: list[int | None]
    p: np.ndarray  # printed values as floats, blanks 0
    rules: tuple[tuple[R.Rule, tuple[str, ...]], ...]  # each rule with its effective right side


@dataclass(frozen=True)
class _Structure:
    cells: tuple[str, ...]
    positions: tuple[int, ...]  # of the cells in Block.operands
    a: np.ndarray
    eq: np.ndarray
    whole: np.ndarray
    blanks: bool
    rules: tuple


def _system(block: Block, row: Mapping) -> _System:
    """The block's constraints over one report's values (the structure is shared by reports whose
    blank cells are the same: a night has few such patterns)."""
    values = values_of(row, block.operands)
    st = _structure(block, tuple(v is None for v in values))
    printed = [v if type(v) is int else _integer(v) for v in (values[i] for i in st.positions)]
    p = np.array([0 if v is None else v for v in printed], dtype=float)
    return _System(block.table, st.cells, st.a, st.eq, st.whole, st.blanks, printed, p, st.rules)


@lru_cache(maxsize=1024)
def _structure(block: Block, blank: tuple[bool, ...]) -> _Structure:
    """The constraints of a block for one pattern of blank cells."""
    present = {c: None if b else 0 for c, b in zip(block.operands, blank)}
    rules = []
    for rule in block.rules:
        right = effective_right(rule, present)
        # A rule over blank cells only (the (六) rows the report does not print) constrains nothing printed.
        if any(present[c] is not None for c in (*rule.left, *right)):
            rules.append((rule, right))
    cells = tuple(dict.fromkeys(c for rule, right in rules for c in (*rule.left, *right)))
    index = {c: i for i, c in enumerate(cells)}
    a = np.zeros((len(rules), len(cells)))
    for i, (rule, right) in enumerate(rules):
        for c in rule.left:
            a[i, index[c]] += 1
        for c in right:
            a[i, index[c]] -= 1
    eq = np.array([rule.op == "==" for rule, _ in rules], dtype=bool)
    known = np.array([present[c] is not None for c in cells], dtype=bool)
    whole = ~((a != 0) & ~known).any(axis=1)
    for array in (a, eq, whole):
        array.setflags(write=False)
    positions = tuple(block.operands.index(c) for c in cells)
    return _Structure(cells, positions, a, eq, whole, not known.all(), tuple(rules))


def _integer(value) -> int | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return int(value)


def _broken(system: _System) -> bool:
    """Does a fully printed rule fail, or is a printed count negative?"""
    if (system.p < 0).any():
        return True
    r = system.a @ system.p
    return bool((system.whole & np.where(system.eq, r != 0, r > 0)).any())


@lru_cache(maxsize=1024)
def _weights(weight: Callable[[str], float], cells: tuple[str, ...]) -> tuple[float, ...]:
    return tuple(weight(c) for c in cells)


# --- one cell ---------------------------------------------------------------------------------------


def _single_cells(system: _System) -> list[tuple[int, int, int | None]] | None:
    """Every cell that alone repairs a fully printed block: (index, low, high) of its value; None when
    the block has blanks (the solver handles those)."""
    if system.blanks:
        return None
    p, a, eq = system.p, system.a, system.eq
    r = a @ p
    bad_rows = (eq & (r != 0)) | (~eq & (r > 0))
    negative = p < 0
    candidates = np.flatnonzero(negative | (a[bad_rows] != 0).any(axis=0))
    others_negative = negative.sum() - negative[candidates]
    cols = a[:, candidates]
    on_eq = eq[:, None] & (cols != 0)
    # The change each equality forces on each candidate (cells x rules at once: a night has 50,000 reports).
    forced = np.where(on_eq, -r[:, None] / np.where(cols == 0, 1, cols), np.nan)
    has_eq = on_eq.any(axis=0)
    low = np.where(has_eq, np.nanmin(np.where(on_eq, forced, np.inf), axis=0), 0)
    high = np.where(has_eq, np.nanmax(np.where(on_eq, forced, -np.inf), axis=0), 0)
    after = r[:, None] + cols * low
    fits = (
        has_eq
        & (low == high)
        & (low != 0)
        & (low == np.round(low))
        & (p[candidates] + low >= 0)
        & (others_negative == 0)
        & np.all(after[eq] == 0, axis=0)
        & np.all(after[~eq] <= 0, axis=0)
    )
    found = [(int(c), int(p[c] + d), int(p[c] + d)) for c, d in zip(candidates[fits], low[fits])]
    for c in candidates[~has_eq & (others_negative == 0)]:
        col = a[:, c]
        if np.any(r[eq] != 0):
            continue  # an equality it is not in stays broken
        lo, hi = 0.0, np.inf  # only inequalities: the values that satisfy them all
        for i in np.flatnonzero(~eq & (col != 0)):
            bound = p[c] - r[i] / col[i]  # r_i + col_i (v - p_c) <= 0
            if col[i] > 0:
                hi = min(hi, np.floor(bound))
            else:
                lo = max(lo, np.ceil(bound))
        if lo <= hi and not (lo <= p[c] <= hi):
            found.append((int(c), int(lo), None if hi == np.inf else int(hi)))
    return found


def _cell_pairs(system: _System) -> list[tuple[tuple[int, int], tuple[int, int]]] | None:
    """Every pair of cells that together repair a fully printed block, with values the equalities fix:
    ((i, j), (value_i, value_j)); None when that cannot be told without the solver (blanks, a pair whose
    values the equalities leave open). Two wrong cells are common enough to be spared the solver: a
    pair must touch every broken rule between them, which leaves few to solve."""
    if system.blanks:
        return None
    p, a, eq = system.p, system.a, system.eq
    r = a @ p
    broken = np.where(eq, r != 0, r > 0)
    negative = np.flatnonzero(p < 0)
    if len(negative) > 2:
        return []  # no pair repairs three negative counts
    # missing[i, b]: cell i is not in broken rule b; a pair must leave no broken rule out.
    missing = (a[broken] == 0).T.astype(np.int32)
    uncovered = missing @ missing.T
    found = []
    for i, j in zip(*np.nonzero(np.triu(uncovered == 0, k=1))):
        if any(n not in (i, j) for n in negative):
            continue
        cols = a[:, [i, j]]
        rows = eq & (cols != 0).any(axis=1)
        sub = cols[rows]
        if np.linalg.matrix_rank(sub) < 2:
            return None  # the equalities do not fix both values: the solver gives their ranges
        delta = np.linalg.lstsq(sub, -r[rows], rcond=None)[0]
        delta = np.round(delta)
        after = r + cols @ delta
        values = p[[i, j]] + delta
        if np.all(delta != 0) and np.all(values >= 0) and np.all(after[eq] == 0) and np.all(after[~eq] <= 0):
            found.append(((int(i), int(j)), (int(values[0]), int(values[1]))))
    return found


# --- the solver -------------------------------------------------------------------------------------


def _big_m(system: _System, loose: bool = False) -> float:
    """The bound on a repaired value (and the big M linking a value to its change). Tight: twice the
    largest printed count plus 100 (the solver is ten times faster than with the sum of all counts);
    loose, when the tight bound leaves no repair or a repair reaches it: twice the sum of all counts,
    which no repair of these sums can exceed."""
    printed = [abs(v) for v in system.printed if v is not None] or [0]
    return 2.0 * (sum(printed) if loose else max(printed)) + 100.0


def _solve(c, constraints, lb, ub, integrality, deadline: float):
    """HiGHS's optimum, or None (infeasible, or out of time: the block's budget is spent)."""
    from scipy.optimize import Bounds, milp

    left = min(SOLVER_SECONDS, deadline - time.monotonic())
    if left <= 0:
        return None
    res = milp(
        c,
        constraints=constraints,
        bounds=Bounds(lb, ub),
        integrality=integrality,
        options={"disp": False, "time_limit": left},
    )
    return res if res.status == 0 and res.x is not None else None


def _mip_sets(system: _System, weights: tuple[float, ...], limit: int, deadline: float) -> tuple[list[list[int]], bool]:
    """Minimal weighted sets of printed cells (indices), all of the smallest size, up to `limit`, and
    whether more exist: under the tight bound, else the loose one."""
    sets, more, at_bound = _mip_sets_within(system, weights, limit, _big_m(system), deadline)
    if not sets or at_bound:
        sets, more, _ = _mip_sets_within(system, weights, limit, _big_m(system, loose=True), deadline)
    return sets, more


def _mip_sets_within(
    system: _System, weights: tuple[float, ...], limit: int, big: float, deadline: float
) -> tuple[list[list[int]], bool, bool]:
    """_mip_sets with values bounded by `big`; and whether a repair reached the bound."""
    from scipy.optimize import LinearConstraint

    n = len(system.cells)
    printed = [i for i, v in enumerate(system.printed) if v is not None]
    k = len(printed)
    at_bound = False
    a = np.hstack([system.a, np.zeros((len(system.a), k))])
    link = np.zeros((2 * k, n + k))
    link_ub = np.zeros(2 * k)
    for j, i in enumerate(printed):
        link[2 * j, i], link[2 * j, n + j], link_ub[2 * j] = 1, -big, system.printed[i]
        link[2 * j + 1, i], link[2 * j + 1, n + j], link_ub[2 * j + 1] = -1, -big, -system.printed[i]
    constraints = [
        LinearConstraint(a, np.where(system.eq, 0, -np.inf), 0),
        LinearConstraint(link, -np.inf, link_ub),
    ]
    cost = np.concatenate([np.zeros(n), [weights[i] for i in printed]])
    lb, ub = np.zeros(n + k), np.concatenate([np.full(n, big), np.ones(k)])
    changes = np.concatenate([np.zeros(n), np.ones(k)])
    constraints.append(LinearConstraint(changes[None, :], -np.inf, MAX_CELLS))
    sets: list[list[int]] = []
    size = None
    while len(sets) <= limit:
        res = _solve(cost, constraints, lb, ub, np.ones(n + k), deadline)
        if res is None:
            break
        at_bound |= bool(np.any(res.x[:n] >= big - 0.5))
        moved = [j for j in range(k) if res.x[n + j] > 0.5]
        chosen = [printed[j] for j in moved if round(res.x[printed[j]]) != system.printed[printed[j]]]
        if size is None:
            size = len(chosen)
            row = np.concatenate([np.zeros(n), np.ones(k)])
            constraints.append(LinearConstraint(row[None, :], -np.inf, size))  # ties only: no larger set
        cut = np.zeros(n + k)
        for i in chosen:
            cut[n + printed.index(i)] = 1
        constraints.append(LinearConstraint(cut[None, :], -np.inf, len(chosen) - 1))
        if chosen and chosen not in sets:
            sets.append(chosen)
        if not chosen:
            break
    return sets[:limit], len(sets) > limit, at_bound


def _ranges(system: _System, changed: list[int], deadline: float) -> list[tuple[int, int | None]]:
    """The values each changed cell can take when only `changed` cells move: when the equalities fix
    them (full column rank, no blanks), one linear solve; otherwise two solver calls per cell."""
    if not system.blanks:
        a = system.a[system.eq][:, changed]
        if a.size and np.linalg.matrix_rank(a) == len(changed):
            rest = system.p.copy()
            rest[changed] = 0
            rhs = -(system.a[system.eq] @ rest)
            x = np.linalg.lstsq(a, rhs, rcond=None)[0]
            values = np.round(x)
            after = system.p.copy()
            after[changed] = values
            r = system.a @ after
            if np.all(values >= 0) and np.all(np.abs(a @ values - rhs) < 1e-9) and np.all(r[~system.eq] <= 0):
                return [(int(v), int(v)) for v in values]
    return [_range(system, changed, i, deadline) for i in changed]


def _range(system: _System, changed: list[int], i: int, deadline: float) -> tuple[int, int | None]:
    """The values cell i can take when only `changed` cells move: (low, high), high None if unbounded."""
    n = len(system.cells)
    big = _big_m(system, loose=True)
    from scipy.optimize import LinearConstraint

    lb, ub = np.zeros(n), np.full(n, big)
    for j, v in enumerate(system.printed):
        if v is not None and j not in changed:
            lb[j] = ub[j] = v
    cons = [LinearConstraint(system.a, np.where(system.eq, 0, -np.inf), 0)]
    unit = np.zeros(n)
    unit[i] = 1
    low = _solve(unit, cons, lb, ub, np.ones(n), deadline)
    high = _solve(-unit, cons, lb, ub, np.ones(n), deadline)
    lo = round(low.x[i]) if low is not None else 0
    hi = round(high.x[i]) if high is not None else None
    return lo, None if hi is None or hi >= big - 1 else hi


# --- recognised errors ------------------------------------------------------------------------------


def _digit_kind(printed: int, value: int) -> str | None:
    """sign, swap or typo when the printed digits are one such step from the value's."""
    if value != 0 and printed == -value:
        return SIGN
    a, b = str(printed), str(value)
    if printed < 0 or max(len(a), len(b)) < 2:
        return None
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return SWAP
        if len(diff) == 1:
            return TYPO
        return None
    short, long_ = sorted((a, b), key=len)
    if len(long_) - len(short) == 1 and any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_))):
        return TYPO
    return None


def _kind(system: _System, i: int, value: int | None, row: Mapping) -> str:
    """How the printed value of cell i relates to the value that repairs the block."""
    printed, cell = system.printed[i], system.cells[i]
    if value is None or printed is None:
        return FELLEGI_HOLT
    digits = _digit_kind(printed, value)
    if digits:
        return digits
    peers: set[str] = set()
    for rule, right in system.rules:
        operands = (*rule.left, *right)
        if rule.op == "==" and rule.left == (cell,):
            counted = [system.printed[system.cells.index(c)] for c in right]
            if any(v is not None and v > 0 and value - printed == v for v in counted):
                return OMISSION
        if cell in operands:
            peers.update(operands)
    if cell in totals() and printed not in (0, value):
        same_place = [c for c in totals() if c != cell and c.rsplit("_", 1)[-1] == cell.rsplit("_", 1)[-1]]
        others = [c for c in (peers | set(same_place)) if c != cell]
        if any(v == printed for v in values_of(row, tuple(sorted(others)))):
            return COPY
    return FELLEGI_HOLT


# --- a report ---------------------------------------------------------------------------------------


def _block_solutions(
    block: Block, row: Mapping, weight: Callable[[str], float]
) -> tuple[list[tuple[Change, ...]], bool, bool] | None:
    """The block's minimal sets as changes, whether more exist and whether the solver found them; None
    when the block holds."""
    system = _system(block, row)
    if not _broken(system):
        return None
    weights = _weights(weight, system.cells)

    def change(i: int, low: int, high: int | None) -> Change:
        proposed = low if low == high else None
        return Change(
            system.table,
            system.cells[i],
            system.printed[i],
            proposed,
            low,
            high,
            weights[i],
            _kind(system, i, proposed, row),
        )

    singles = _single_cells(system)
    if singles:
        return [(change(i, lo, hi),) for i, lo, hi in singles], False, False
    pairs = _cell_pairs(system)
    if pairs:
        ranked = sorted(pairs, key=lambda pv: (sum(weights[i] for i in pv[0]), pv[0]))
        return [tuple(change(i, v, v) for i, v in zip(*pv)) for pv in ranked], False, False
    if _too_many_broken(system):
        return [], False, False
    deadline = time.monotonic() + BLOCK_SECONDS
    sets, capped = _mip_sets(system, weights, MAX_SOLUTIONS, deadline)
    return [tuple(change(i, *r) for i, r in zip(s, _ranges(system, s, deadline))) for s in sets], capped, True


def _too_many_broken(system: _System) -> bool:
    """More broken rules than MAX_CELLS cells can reach (each cell is in a few rules at most), or more
    negative counts than MAX_CELLS: no repair within the limit, known without the solver."""
    r = system.a @ system.p
    broken = system.whole & np.where(system.eq, r != 0, r > 0)
    reach = int((system.a != 0).sum(axis=0).max(initial=1))
    return int(broken.sum()) > MAX_CELLS * reach or int((system.p < 0).sum()) > MAX_CELLS


def _may_break(block: Block, failed: set[str]) -> bool:
    """Does a failed rule touch the block: one of its identities, or its table's non-negativity (R5)?"""
    return any(r.id in failed for r in block.rules) or any(
        f.startswith("R5.") and R.RULES_BY_ID[f].table == block.table for f in failed if f in R.RULES_BY_ID
    )


def _cost(solution: tuple[Change, ...]) -> tuple[int, float]:
    return len(solution), round(sum(c.weight for c in solution), 6)


def _rank(solution: tuple[Change, ...]) -> tuple:
    recognised = sum(c.kind != FELLEGI_HOLT for c in solution)
    return (*_cost(solution), -recognised, [c.cell for c in solution])


def localise(
    report_id: str,
    values: Mapping[str, Mapping],
    version: str | None,
    weight: Callable[[str], float] = default_weight,
    failed: set[str] | None = None,
) -> Diagnosis | None:
    """The minimal sets of cells to change in one report (values: table -> row); None when its
    identities hold. `failed`, the rule ids the report is known to break, spares the blocks that hold."""
    per_block, capped, solver = [], False, False
    for block in blocks(version or S.FORMAT_2021):
        row = values.get(block.table)
        if row is None or (failed is not None and not _may_break(block, failed)):
            continue
        found = _block_solutions(block, row, weight)
        if found is None:
            continue
        solutions, more, solved = found
        solver |= solved
        if not solutions:
            continue  # no repair within the bounds: nothing to propose
        per_block.append(sorted(solutions, key=_rank))
        capped |= more
    if not per_block:
        return None
    combined = [tuple(c for part in combo for c in part) for combo in itertools.product(*per_block)]
    combined.sort(key=_rank)
    return Diagnosis(report_id, combined[:MAX_SOLUTIONS], capped or len(combined) > MAX_SOLUTIONS, solver)


def diagnose(run_id: str, failed: Mapping[str, set[str]], reports: Mapping[str, dict]) -> pa.Table:
    """diagnoses.parquet of a run: one row per report, solution and cell, for the reports whose failed
    rules (report id -> rule ids) ask for a localisation."""
    rows: dict[str, list] = {name: [] for name in DIAGNOSES_SCHEMA.names}
    for rid in sorted(failed):
        if not any(localised_rule(r) for r in failed[rid]):
            continue
        rep = reports.get(rid) or {}
        values = rep.get("values") or {}
        version = (rep.get("meta") or {}).get("format_version") or _version(values)
        diag = localise(rid, values, version, failed=failed[rid])
        if diag is None:
            continue
        for n, solution in enumerate(diag.solutions, 1):
            for c in solution:
                for name, value in zip(
                    DIAGNOSES_SCHEMA.names,
                    (
                        run_id,
                        rid,
                        n,
                        len(diag.solutions),
                        diag.ambiguous,
                        diag.capped,
                        n <= diag.best,
                        c.table,
                        c.cell,
                        c.printed,
                        c.proposed,
                        c.low,
                        c.high,
                        c.weight,
                        c.kind,
                        diag.solver,
                    ),
                ):
                    rows[name].append(value)
    return pa.table(rows, schema=DIAGNOSES_SCHEMA)


def _version(values: Mapping[str, Mapping]) -> str | None:
    for table in TABLES:
        row = values.get(table)
        if row is not None and row.get("format_version"):
            return row.get("format_version")
    return None


# --- in Chinese -------------------------------------------------------------------------------------


def change_text(c: Change) -> str:
    """「表四·行政复议·总计」印刷为 0,应为 11(疑似合计漏加了一行)."""
    if c.proposed is not None:
        should = f"应为 {fmt(c.proposed)}"
    elif c.high is None:
        should = f"应不小于 {fmt(c.low)}(取值不唯一)"
    else:
        should = f"应在 {fmt(c.low)} 至 {fmt(c.high)} 之间(取值不唯一)"
    why = f"({KIND_ZH[c.kind]})" if c.kind != FELLEGI_HOLT else ""
    return f"「{label(c.cell)}」印刷为 {fmt(c.printed)},{should}{why}"


def headline(diag: Diagnosis) -> str:
    """The verdict's first line on where the error is."""
    first = ";".join(change_text(c) for c in diag.solutions[0])
    text = f"最可能需要改正的单元格:{first}"
    if diag.ambiguous:
        more = "至少 " if diag.capped else ""
        return f"{text}。但有{more} {diag.best} 种改法同样可能,无法唯一确定,请逐一核对"
    others = len(diag.solutions) - 1
    if others:
        text += f"(另有 {others} 种改动同样少的改法,可能性较低)"
    return text


def from_table(diagnoses: pa.Table) -> dict[str, Diagnosis]:
    """diagnoses.parquet back into one Diagnosis per report."""
    out: dict[str, Diagnosis] = {}
    sets: dict[str, dict[int, list[Change]]] = {}
    capped: dict[str, bool] = {}
    solver: dict[str, bool] = {}
    for row in diagnoses.to_pylist():
        change = Change(
            row["table"],
            row["cell"],
            row["printed"],
            row["proposed"],
            row["proposed_min"],
            row["proposed_max"],
            row["weight"],
            row["kind"],
        )
        sets.setdefault(row["report_id"], {}).setdefault(row["solution"], []).append(change)
        capped[row["report_id"]] = row["capped"]
        solver[row["report_id"]] = row["solver"]
    for rid, by_number in sets.items():
        out[rid] = Diagnosis(rid, [tuple(by_number[n]) for n in sorted(by_number)], capped[rid], solver[rid])
    return out
