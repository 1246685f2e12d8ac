"""Seeded generator of NBA raw box scores: players, rosters, availability and box scores (schedule: sample_schedule).

Pure Python (no numpy). Randomness comes from separate streams so that a game's rows never depend on the date
range asked for: one stream for the league's players across seasons, one per season (schedule, team ratings,
injuries, form, trades), one per game (its box score). The effects a points model can learn, and their sizes,
are documented in docs/sample-data.md; `python -m nba_pipeline.sample_data --describe` measures them back.

Box-score identities, on every team-game (tests/nba/test_sample_realism.py):
- team minutes = 240 + 25 * overtime periods = sum of its players' minutes (quarter-minute steps, exact floats);
- points = 2*FGM + 3PM + FTM for every player and team; team totals = sum of its players;
- team assists = sum of the players' assisted makes <= team FGM; each assist goes to a teammate of the shooter;
- offensive rebounds + the opponent's defensive rebounds <= own missed field goals (hence team rebounds <=
  own + opponent misses); steals <= opponent turnovers; blocks <= opponent missed two-point attempts;
- shot zones: paint + mid-range + three attempts = FGA (makes = FGM); assisted makes <= FGM.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import Callable

from backfill_orchestrator.dates import Calendar, Season

from .sample_schedule import TEAMS, playoff_schedule, regular_schedule

_FIRST = ("James Chris Anthony Kevin Jalen Tyler Marcus Jaylen Devin Zion Luka Nikola Trae Donovan Jamal Darius "
          "Miles Cade Evan Scottie Paolo Victor Tyrese Brandon Mikal Desmond Aaron Derrick Kyle Josh Jordan Malik "
          "Isaiah Keegan Franz Alperen Jabari Walker Dyson Amen Ausar Bennedict Jaden Keon Onyeka Tari").split()
_LAST = ("Walker Johnson Williams Brown Jones Miller Davis Wilson Moore Taylor Thomas Jackson White Harris Martin "
         "Thompson Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter "
         "Phillips Evans Turner Torres Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper "
         "Reed Bailey Bell Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders").split()

ROSTER = 14
BURN_IN = 3
# Effect sizes (docs/sample-data.md lists each with its public reference figure)
HOME_MAKE = 0.005  # home side's make probabilities x (1 + this), away x (1 - this)
HOME_FT = 0.03  # home side's free-throw trips x (1 + this), away x (1 - this)
B2B_MAKE = 0.985  # second night of a back-to-back: make probabilities x this
B2B_MINUTES = 0.95  # ... and minutes of players with a 30+ minute role x this
B2B_REST = 0.06  # ... and the chance such a player sits out ("load management")
DEFENSE_SD = 0.03  # team defence: opponent make probabilities x (1 - d), d ~ N(0, this) per team-season
OFFENSE_SD = 0.015  # team offence (system, coaching): own make probabilities x (1 + o)
PACE_SD = 3.0  # team pace (possessions per 48) ~ N(season pace, this)
GAME_PACE_SD = 3.0  # game possessions ~ N(mean of both teams' pace, this)
GAME_SHOOTING_SD = 0.025  # a team's shooting night: make probabilities x N(1, this)
FORM_RHO, FORM_SD = 0.97, 0.012  # a player's usage form: AR(1) per game played, stationary sd ~ 5%
ROLE_RHO, ROLE_SD = 0.98, 0.5  # a player's minutes role: AR(1) per team game, stationary sd ~ 2.5 minutes
INJURY_RATE = 0.011  # per team game, per player, times the player's injury proneness


@dataclass
class Player:
    player_id: str
    name: str
    age: float
    role: float  # his own minutes level; the season plan blends it with his team's depth chart
    usage: float  # share of his team's plays (FGA + 0.44 FTA + TOV) while he is on the floor
    big: float  # 0 = guard .. 1 = centre: rebounds, blocks, paint shots, fewer threes and assists
    three_share: float  # threes per field-goal attempt
    ft_share: float  # plays ending in free throws (per 0.44 FTA)
    tov_share: float  # plays ending in a turnover
    paint_share: float  # paint attempts per two-point attempt
    paint_pct: float
    mid_pct: float
    fg3_pct: float
    ft_pct: float
    assisted: float  # share of his makes that are assisted
    ast_w: float
    stl_w: float
    injury_prone: float


@dataclass
class Game:
    game_id: str
    game_date: dt.date
    season: str
    home: str
    away: str
    overtime: int
    game_type: str  # regular | playoffs


@dataclass
class SeasonData:
    games: list[Game] = field(default_factory=list)
    team_rows: list[tuple] = field(default_factory=list)
    player_rows: list[tuple] = field(default_factory=list)
    zone_rows: list[tuple] = field(default_factory=list)


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _new_player(rng: random.Random, n: int, slot: int | None = None) -> Player:
    """A player for roster slot 0..13 (0 = the team's first option), or a rookie (slot None)."""
    big = rng.random() ** 1.3
    if slot is None:
        role, usage, age = rng.gauss(13, 6), rng.gauss(0.17, 0.03), rng.uniform(19, 23)
    else:
        role = rng.gauss(35, 1.5) if slot == 0 else rng.gauss(31, 2.5) if slot < 5 else \
            rng.gauss(21, 3.5) if slot < 9 else rng.gauss(9, 4)
        usage = rng.gauss(0.30, 0.035) if slot == 0 else rng.gauss(0.19, 0.035)
        age = rng.uniform(21, 34)
    return Player(
        player_id=f"P{n:05d}", name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", age=age,
        role=_clip(role, 3, 37.5), usage=_clip(usage, 0.1, 0.35), big=big,
        three_share=_clip(rng.gauss(0.56 - 0.4 * big, 0.08), 0.01, 0.75),
        ft_share=_clip(rng.gauss(0.065 + 0.025 * big, 0.02), 0.02, 0.16),
        tov_share=_clip(rng.gauss(0.12, 0.02), 0.06, 0.2),
        paint_share=_clip(rng.gauss(0.5 + 0.35 * big, 0.08), 0.2, 0.97),
        paint_pct=_clip(rng.gauss(0.57 + 0.06 * big, 0.03), 0.45, 0.72),
        mid_pct=_clip(rng.gauss(0.43, 0.03), 0.33, 0.52),
        fg3_pct=_clip(rng.gauss(0.362, 0.022), 0.28, 0.43),
        ft_pct=_clip(rng.gauss(0.8 - 0.1 * big, 0.06), 0.5, 0.93),
        assisted=_clip(rng.gauss(0.55 + 0.25 * big, 0.08), 0.2, 0.95),
        ast_w=_clip(rng.gauss(1.2 - 0.9 * big, 0.3), 0.1, 2.5) * (1.6 if usage > 0.26 else 1.0),
        stl_w=rng.uniform(0.7, 1.3), injury_prone=rng.lognormvariate(0, 0.5))


def _age(rng: random.Random, p: Player) -> Player:
    """One off-season: young players grow, veterans decline, everyone moves a little."""
    grow = 0.06 if p.age < 24 else 0.02 if p.age < 28 else -0.01 if p.age < 31 else -0.06
    role_step = 1.0 if p.age < 24 else 0.5 if p.age < 29 else -1.0 if p.age < 32 else -3.0
    return replace(p, age=p.age + 1, usage=_clip(p.usage * math.exp(rng.gauss(grow, 0.07)), 0.1, 0.35),
                   role=_clip(p.role + rng.gauss(role_step, 2.0), 3, 37.5),
                   fg3_pct=_clip(p.fg3_pct + rng.gauss(0, 0.012), 0.28, 0.43),
                   paint_pct=_clip(p.paint_pct + rng.gauss(0, 0.01), 0.45, 0.72))


def make_rosters(calendar: Calendar, seed: int) -> dict[str, dict[str, list[Player]]]:
    """season name -> team -> 14 players at the season's start. Between seasons every player ages; about a third
    of each roster leaves: the oldest and least used retire, the others sign with another team (free agency),
    and rookies fill what remains."""
    rng = random.Random(f"{seed}:rosters")
    counter = 0
    out: dict[str, dict[str, list[Player]]] = {}
    prev: dict[str, list[Player]] = {}
    # three off-seasons run before the first season, so it starts from a league already shaped by careers
    for name in [""] * BURN_IN + [s.name for s in calendar.seasons]:
        cur: dict[str, list[Player]] = {}
        pool: list[Player] = []
        for team in TEAMS:
            keep = []
            for p in prev.get(team, []):
                p = _age(rng, p)
                if rng.random() > 0.33:
                    keep.append(p)
                elif p.age < 34 and p.role > 8 and rng.random() < 0.8:
                    pool.append(p)
            cur[team] = keep
        rng.shuffle(pool)
        for team in TEAMS:
            keep = cur[team]

            def sign(slot: int, good_enough: Callable[[Player], bool]) -> None:
                nonlocal counter
                best = max(pool, key=lambda p: p.role * p.usage, default=None)
                if best is not None and good_enough(best):
                    pool.remove(best)
                    keep.append(best)
                else:
                    counter += 1
                    keep.append(_new_player(rng, counter, slot=slot))

            if prev:  # a team that lost its first option or starters replaces them: the league keeps its shape
                if not any(p.usage >= 0.25 and p.role >= 30 for p in keep):
                    sign(0, lambda p: p.usage >= 0.25 and p.role >= 30)
                while sum(1 for p in keep if p.role >= 27) < 5:
                    sign(1, lambda p: p.role >= 27)
            while len(keep) < ROSTER:
                counter += 1
                if not prev:
                    keep.append(_new_player(rng, counter, slot=len(keep)))
                elif pool and rng.random() < 0.5:
                    keep.append(pool.pop())
                else:
                    keep.append(_new_player(rng, counter))
            keep.sort(key=lambda p: -p.role)  # over 14 after signing starters: the last man is waived
            del keep[ROSTER:]
        out[name] = prev = cur
    out.pop("", None)
    return out


@dataclass
class TeamSeason:
    pace: float
    offense: float
    defense: float


@dataclass
class TeamGameState:
    """Who can play for a team in one game, with each player's role and form that day (computed for every game
    of the season in date order, so the date range asked for never changes them)."""
    players: list[tuple[Player, float, float]]  # (player, role minutes, usage x form)
    back_to_back: bool


def _season_states(rng: random.Random, games: list[Game], rosters: dict[str, list[Player]],
                   deadline: dt.date, end: dt.date) -> dict[tuple[str, str], TeamGameState]:
    roster = {t: list(ps) for t, ps in rosters.items()}
    plan = _planned_minutes(roster)
    out_for: dict[str, int] = {}
    form: dict[str, float] = {}
    role: dict[str, float] = {}
    last_day: dict[str, dt.date] = {}
    traded = False
    states = {}
    u = rng.random
    for g in games:
        if g.game_date > end:  # states are built in date order: stopping early changes none before
            break
        if not traded and g.game_date >= deadline:
            traded = True
            _trade_deadline(rng, roster)
        for team in (g.home, g.away):
            b2b = last_day.get(team) == g.game_date - dt.timedelta(days=1)
            last_day[team] = g.game_date
            avail = []
            for p in roster[team]:
                pid = p.player_id
                # _noise written out: this loop runs for every player of every game of the season
                r = ROLE_RHO * role.get(pid, plan[pid]) + (1 - ROLE_RHO) * plan[pid] + \
                    (u() + u() + u() - 1.5) * 2 * ROLE_SD
                role[pid] = r
                if out_for.get(pid, 0) > 0:
                    out_for[pid] -= 1
                    continue
                if u() < INJURY_RATE * p.injury_prone:
                    out_for[pid] = max(0, round(rng.lognormvariate(1.2, 1.0)) - 1)
                    continue
                if b2b and p.role >= 30 and u() < B2B_REST:
                    continue
                f = form[pid] = FORM_RHO * form.get(pid, 0.0) + (u() + u() + u() - 1.5) * 2 * FORM_SD
                avail.append((p, _clip(r, 2, 38) * (B2B_MINUTES if b2b and p.role >= 30 else 1.0),
                              p.usage * math.exp(f)))
            states[(g.game_id, team)] = TeamGameState(avail, b2b)
    return states


# minutes a coach plans for his 1st, 2nd, ... player: a real rotation (few stars above 36, a 9-10 man rotation)
_ROTATION = (36.0, 32.5, 31.0, 30.0, 28.5, 24.0, 21.0, 18.0, 15.0, 11.0, 8.0, 6.0, 4.0, 3.0)


def _planned_minutes(roster: dict[str, list[Player]]) -> dict[str, float]:
    """A player's minutes role for the season: half his own level, half the slot his team's depth chart gives
    him, so the same player plays more on a thin team and less on a deep one."""
    out = {}
    for players in roster.values():
        for rank, p in enumerate(sorted(players, key=lambda p: -p.role)):
            out[p.player_id] = min(37.5, 0.5 * p.role + 0.5 * _ROTATION[min(rank, len(_ROTATION) - 1)])
    return out


def _trade_deadline(rng: random.Random, roster: dict[str, list[Player]]) -> None:
    """About eight one-for-one trades between random teams, of players outside each team's top two."""
    for _ in range(8):
        a, b = rng.sample(TEAMS, 2)
        i = rng.randrange(2, ROSTER)
        j = rng.randrange(2, ROSTER)
        ra = sorted(roster[a], key=lambda p: -p.role)
        rb = sorted(roster[b], key=lambda p: -p.role)
        pa, pb = ra[i], rb[j]
        roster[a] = [pb if p is pa else p for p in roster[a]]
        roster[b] = [pa if p is pb else p for p in roster[b]]


def _overtime(rng: random.Random) -> int:
    r = rng.random()
    return 0 if r >= 0.06 else 1 if r >= 0.009 else 2 if r >= 0.0015 else 3


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 12:  # normal approximation: exact enough for counts this large, and far cheaper
        return max(0, round(rng.gauss(mean, mean ** 0.5)))
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def _binom(rng: random.Random, n: int, p: float) -> int:
    if n > 30:  # normal approximation, clipped to [0, n]
        return min(n, max(0, round(rng.gauss(n * p, (n * p * (1 - p)) ** 0.5))))
    r, k = rng.random, 0
    for _ in range(n):
        if r() < p:
            k += 1
    return k


def _noise(rng: random.Random, sd: float) -> float:
    """About N(0, sd): a sum of three uniforms, several times cheaper than random.gauss."""
    r = rng.random
    return (r() + r() + r() - 1.5) * 2 * sd


def _spread(rng: random.Random, n: int, weights: list[float]) -> list[int]:
    """n events handed out at random in proportion to weights."""
    out = [0] * len(weights)
    cum = list(accumulate(weights))
    if n and cum[-1] > 0:
        for i in rng.choices(range(len(weights)), cum_weights=cum, k=n):
            out[i] += 1
    return out


def _minutes(rng: random.Random, state: TeamGameState, overtime: int) -> list[tuple[Player, float, bool, float]]:
    """(player, usage today, starter, minutes) for the players in the box score, largest role first."""
    listed = sorted(state.players, key=lambda x: -x[1])[:rng.choice((10, 11, 11, 12))]
    rotation = rng.choice((9, 10))
    total = 4 * (240 + 25 * overtime)  # quarter minutes: sums stay exact in binary floating point
    # beyond the rotation: half sit the whole game (DNP), half get 2-8 minutes of garbage time
    garbage = [rng.randrange(8, 33) if i >= rotation and rng.random() < 0.5 else 0 for i in range(len(listed))]
    target = [4 * r * (1 + _noise(rng, 0.1)) * (1 + overtime * 25 / 240) if i < rotation else 0.0
              for i, (_, r, _) in enumerate(listed)]
    gap = total - sum(garbage) - sum(target)
    cap = 4 * (44 + 5 * overtime)
    if gap > 0:  # short-handed: bench players absorb the minutes, stars stay near their role
        room = [max(0.0, min(cap, 4 * 38) - t) if i < rotation else 0.0 for i, t in enumerate(target)]
        target = [t + gap * r / sum(room) for t, r in zip(target, room)]
    else:  # too many minutes planned: the bench gives up most of them, as coaches shorten the rotation
        room = [max(0.0, 4 * 40 - t) if i < rotation else 0.0 for i, t in enumerate(target)]
        cut = [-gap * r / sum(room) for r in room]
        target = [t - c for t, c in zip(target, cut)] if all(c <= t for t, c in zip(target, cut)) else \
            [t * (total - sum(garbage)) / sum(target) for t in target]
    # under two minutes planned: he does not get in (no 0:15 cameos, whose usage rates run to the hundreds)
    alloc = [(min(cap, int(t)) if t >= 8 else 0) + g for t, g in zip(target, garbage)]
    order = sorted((i for i in range(len(listed)) if target[i] >= 8), key=lambda i: alloc[i] - target[i])
    k, missing = 0, total - sum(alloc)
    while missing > 0:  # hand out the rounding remainder, largest fractions first, never above the cap
        i = order[k % len(order)]
        if alloc[i] < cap:
            alloc[i] += 1
            missing -= 1
        k += 1
    return [(p, u, i < 5, alloc[i] / 4) for i, (p, _, u) in enumerate(listed)]


def _box(rng: random.Random, g: Game, states: dict[tuple[str, str], TeamGameState],
         ratings: dict[str, TeamSeason], league: tuple[float, float], out: SeasonData) -> None:
    _, league_eff = league
    has_zones = rng.random() < 0.5  # games with play-by-play; the zone coverage checks expect 40%+ of rows
    team_minutes = 240 + 25 * g.overtime
    possessions = (ratings[g.home].pace + ratings[g.away].pace) / 2 + rng.gauss(0, GAME_PACE_SD)
    possessions *= team_minutes / 240
    sides = []
    for team, opp, home in ((g.home, g.away, True), (g.away, g.home, False)):
        st = states[(g.game_id, team)]
        lines = _minutes(rng, st, g.overtime)
        make = league_eff * (1 + ratings[team].offense) * (1 - ratings[opp].defense) * rng.gauss(1, GAME_SHOOTING_SD)
        make *= (1 + HOME_MAKE) if home else (1 - HOME_MAKE)
        make *= B2B_MAKE if st.back_to_back else 1.0
        ft = (1 + HOME_FT) if home else (1 - HOME_FT)
        sides.append((team, opp, home, lines, make, ft))
    boxes = [_shooting(rng, possessions, lines, make, ft) for _, _, _, lines, make, ft in sides]
    _rebounds_steals_blocks(rng, sides, boxes)
    totals = [[sum(col) for col in zip(*box)][:14] for box in boxes]
    if totals[0][0] == totals[1][0]:  # no ties in basketball: the home side's top scorer hits one more free throw
        top = max(range(len(boxes[0])), key=lambda i: sides[0][3][i][3])
        for k in (0, 5, 6):
            boxes[0][top][k] += 1
            totals[0][k] += 1
    common = (g.game_id, g.game_date, g.season)
    for (team, opp, home, lines, _, _), box, tot in zip(sides, boxes, totals):
        out.team_rows.append(common + (team, opp, home, team_minutes, *tot))
        for (p, _, starter, minutes), line in zip(lines, box):
            out.player_rows.append(common + (team, p.player_id, p.name, starter, minutes, *line[:14]))
            if has_zones and minutes > 0:
                out.zone_rows.append((g.game_id, g.game_date, p.player_id, team, *line[14:21]))


# a line: points, FGM, FGA, 3PM, 3PA, FTM, FTA, OREB, DREB, AST, STL, BLK, TOV, PF, then the zone columns
# (paint att, paint makes, mid att, mid makes, 3PA, 3PM, assisted makes), then 2PA - 2PM (for blocks)
def _shooting(rng: random.Random, possessions: float, lines: list, make: float, ft: float) -> list[list[int]]:
    # A team's plays (FGA + 0.44 FTA + TOV) = its possessions + its offensive rebounds (each gives the same
    # possession a new play); they are dealt to the players in proportion to usage x minutes, then to the kind
    # of play by each player's style. Dealing a fixed total (not a count per player) keeps a team's volume tied
    # to the game's pace, as in real box scores.
    plays = possessions + 10.3
    load = [u * m for _, u, _, m in lines]
    total_load = sum(load)
    weights = []
    for (p, _, _, _), w in zip(lines, load):
        e = plays * w / total_load
        weights += [e * (1 - p.tov_share - p.ft_share), e * p.tov_share, e * p.ft_share * ft / 0.88]
    events = [0] * len(weights)
    for k in rng.choices(range(len(weights)), weights, k=round(sum(weights))):
        events[k] += 1
    box = []
    r = rng.random
    for i, (p, _, _, minutes) in enumerate(lines):
        fga, tov, pairs = events[3 * i:3 * i + 3]
        if minutes == 0:
            box.append([0] * 22)
            continue
        # one pass over his shots: zone, then make, then whether a teammate assisted it
        three, paint = p.three_share, p.three_share + (1 - p.three_share) * p.paint_share
        m3, mp, mm, ast = min(0.95, p.fg3_pct * make), min(0.95, p.paint_pct * make), min(0.95, p.mid_pct * make), \
            p.assisted
        tpa = tpm = n_paint = paint_m = mid_m = assisted = 0
        for _ in range(fga):
            x = r()
            if x < three:
                tpa += 1
                if r() < m3:
                    tpm += 1
                    assisted += r() < ast
            elif x < paint:
                n_paint += 1
                if r() < mp:
                    paint_m += 1
                    assisted += r() < ast
            elif r() < mm:
                mid_m += 1
                assisted += r() < ast
        mid = fga - tpa - n_paint
        fgm = tpm + paint_m + mid_m
        fta = 2 * pairs + _binom(rng, paint_m, 0.08)  # two-shot fouls, and-ones at the rim
        ftm = _binom(rng, fta, p.ft_pct)
        pf = min(6, _poisson(rng, minutes * 0.08))
        box.append([2 * fgm + tpm + ftm, fgm, fga, tpm, tpa, ftm, fta, 0, 0, 0, 0, 0, tov, pf,
                    n_paint, paint_m, mid, mid_m, tpa, tpm, assisted, n_paint + mid - paint_m - mid_m])
    # each assisted make is credited to a teammate on the floor that night, in proportion to his passing
    idx = range(len(lines))
    cum = list(accumulate(m * p.ast_w for p, _, _, m in lines))
    shooters = [i for i, line in enumerate(box) for _ in range(line[20])]
    for shooter, passer in zip(shooters, rng.choices(idx, cum_weights=cum, k=len(shooters))):
        while passer == shooter:
            passer = rng.choices(idx, cum_weights=cum)[0]
        box[passer][9] += 1
    return box


def _rebounds_steals_blocks(rng: random.Random, sides: list, boxes: list[list[list[int]]]) -> None:
    for a, b in ((0, 1), (1, 0)):
        lines_a, lines_b = sides[a][3], sides[b][3]
        misses = sum(x[2] - x[1] for x in boxes[a])
        oreb = _binom(rng, misses, 0.225)
        dreb = _binom(rng, misses - oreb, 0.94)  # the rest are team rebounds, credited to no player
        stl = _binom(rng, sum(x[12] for x in boxes[a]), 0.55)
        blk = _binom(rng, sum(x[21] for x in boxes[a]), 0.2)
        for j, n in enumerate(_spread(rng, oreb, [m * (0.3 + 2 * p.big) for p, _, _, m in lines_a])):
            boxes[a][j][7] += n
        for j, n in enumerate(_spread(rng, dreb, [m * (0.6 + 1.5 * p.big) for p, _, _, m in lines_b])):
            boxes[b][j][8] += n
        for j, n in enumerate(_spread(rng, stl, [m * p.stl_w for p, _, _, m in lines_b])):
            boxes[b][j][10] += n
        for j, n in enumerate(_spread(rng, blk, [m * (0.15 + 2 * p.big ** 2) for p, _, _, m in lines_b])):
            boxes[b][j][11] += n


def _league(rng: random.Random) -> tuple[float, float]:
    """A season's league-wide pace and shooting level (scoring drifts a little from season to season)."""
    return rng.gauss(98.6, 0.5), rng.gauss(1.01, 0.006)


def generate_season(s: Season, rosters: dict[str, list[Player]], seed: int, start: dt.date,
                    end: dt.date) -> SeasonData:
    """All games of season `s` whose date lies in [start, end], with their box scores."""
    rng = random.Random(f"{seed}:{s.name}")
    league = _league(rng)
    ratings = {t: TeamSeason(rng.gauss(league[0], PACE_SD), rng.gauss(0, OFFENSE_SD), rng.gauss(0, DEFENSE_SD))
               for t in TEAMS}
    strength = {t: math.exp(25 * (r.offense + r.defense)) for t, r in ratings.items()}
    yy = s.name[2:4]
    games = [Game(f"002{yy}{n:05d}", d, s.name, h, a, _overtime(rng), "regular")
             for n, (d, h, a) in enumerate(regular_schedule(rng, s), 1)]
    games += [Game(f"004{yy}00{code}", d, s.name, h, a, _overtime(rng), "playoffs")
              for d, h, a, code in playoff_schedule(rng, s, strength)]
    games.sort(key=lambda g: (g.game_date, g.game_id))
    deadline = dt.date(s.regular_end.year, 2, 6)
    states = _season_states(random.Random(f"{seed}:{s.name}:players"), games, rosters, deadline, end)
    out = SeasonData()
    for g in games:
        # every game draws its box score from its own stream, so the range asked for does not change it
        if start <= g.game_date <= end:
            out.games.append(g)
            _box(random.Random(f"{seed}:{g.game_id}"), g, states, ratings, league, out)
    return out
