"""Seeded generator of NBA raw box scores: schedule, team and player box scores, shot zones.

Pure Python (no numpy), one `random.Random` per season so a season's games do not depend on the date range
asked for. Consistency the validation suites rely on:
- team minutes = 240 + 25 * overtime periods = sum of its players' minutes (quarter-minute steps, exact floats);
- points = 2*FGM + 3PM + FTM for every player and team; team totals = sum of its players;
- where shot zones exist, paint + mid-range + three attempts = FGA (and makes = FGM), assisted makes <= FGM;
- no team plays twice on a day; ~1,230 regular-season games (82 per team) a season; All-Star break,
  Thanksgiving and Christmas Eve without games; playoffs in best-of-7 rounds ending by the calendar's end.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from backfill_orchestrator.dates import Calendar, Season

TEAMS = ("ATL BOS BKN CHA CHI CLE DAL DEN DET GSW HOU IND LAC LAL MEM MIA MIL MIN NOP NYK OKC ORL PHI PHX POR "
         "SAC SAS TOR UTA WAS").split()
_FIRST = ("James Chris Anthony Kevin Jalen Tyler Marcus Jaylen Devin Zion Luka Nikola Trae Donovan Jamal Darius "
          "Miles Cade Evan Scottie Paolo Victor Tyrese Brandon Mikal Desmond Aaron Derrick Kyle Josh Jordan Malik "
          "Isaiah Keegan Franz Alperen Jabari Walker Dyson Amen Ausar Bennedict Jaden Keon Onyeka Tari").split()
_LAST = ("Walker Johnson Williams Brown Jones Miller Davis Wilson Moore Taylor Thomas Jackson White Harris Martin "
         "Thompson Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter "
         "Phillips Evans Turner Torres Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper "
         "Reed Bailey Bell Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders").split()

ROSTER = 14
REGULAR_GAMES = 82


@dataclass
class Player:
    player_id: str
    name: str
    minutes_weight: float  # share of playing time when active
    fga_rate: float  # field goal attempts per minute
    three_share: float
    ft_rate: float  # free throw attempts per field goal attempt
    fg2_pct: float
    fg3_pct: float
    ft_pct: float
    reb_rate: float
    ast_rate: float


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


def _new_player(rng: random.Random, n: int) -> Player:
    return Player(
        player_id=f"P{n:05d}", name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        minutes_weight=rng.uniform(0.3, 1.0), fga_rate=rng.uniform(0.28, 0.42), three_share=rng.uniform(0.2, 0.5),
        ft_rate=rng.uniform(0.12, 0.38), fg2_pct=rng.uniform(0.46, 0.6), fg3_pct=rng.uniform(0.3, 0.41),
        ft_pct=rng.uniform(0.65, 0.92), reb_rate=rng.uniform(0.08, 0.33), ast_rate=rng.uniform(0.04, 0.27))


def make_rosters(calendar: Calendar, seed: int) -> dict[str, dict[str, list[Player]]]:
    """season name -> team -> 14 players; about a third of each roster changes between seasons."""
    rng = random.Random(f"{seed}:rosters")
    counter = 0
    out: dict[str, dict[str, list[Player]]] = {}
    prev: dict[str, list[Player]] = {}
    for s in calendar.seasons:
        cur: dict[str, list[Player]] = {}
        for team in TEAMS:
            keep = [p for p in prev.get(team, []) if rng.random() > 0.33]
            while len(keep) < ROSTER:
                counter += 1
                keep.append(_new_player(rng, counter))
            cur[team] = keep
        out[s.name] = prev = cur
    return out


def _all_star_break(s: Season) -> set[dt.date]:
    feb1 = dt.date(s.regular_end.year, 2, 1)
    third_sunday = feb1 + dt.timedelta(days=(6 - feb1.weekday()) % 7 + 14)
    return {third_sunday + dt.timedelta(days=i) for i in range(-3, 3)}


def _no_game_days(s: Season) -> set[dt.date]:
    nov1 = dt.date(s.start.year, 11, 1)
    thanksgiving = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
    return _all_star_break(s) | {thanksgiving, dt.date(s.start.year, 12, 24)}


def _regular_schedule(rng: random.Random, s: Season) -> list[tuple[dt.date, str, str]]:
    closed = _no_game_days(s)
    days = [s.start + dt.timedelta(days=i) for i in range((s.regular_end - s.start).days + 1)]
    days = [d for d in days if d not in closed]
    target = len(TEAMS) * REGULAR_GAMES // 2
    weights = [rng.uniform(0.5, 1.5) * (1.25 if d.weekday() in (2, 4, 5) else 1.0) for d in days]
    scale = target / sum(weights)
    quotas = [min(15, max(2, round(w * scale))) for w in weights]
    remaining = {t: REGULAR_GAMES for t in TEAMS}
    out = []
    for d, q in zip(days, quotas):
        free = sorted((t for t in TEAMS if remaining[t] > 0), key=lambda t: (-remaining[t], rng.random()))
        chosen = free[:2 * min(q, len(free) // 2)]
        rng.shuffle(chosen)
        for home, away in zip(chosen[::2], chosen[1::2]):
            remaining[home] -= 1
            remaining[away] -= 1
            out.append((d, home, away))
    return out


def _playoff_schedule(rng: random.Random, s: Season, strength: dict[str, float]) -> list[tuple[dt.date, str, str, str]]:
    first = s.regular_end + dt.timedelta(days=6)
    span = (s.playoffs_end - first).days
    round_starts = [first, first + dt.timedelta(days=span * 27 // 100), first + dt.timedelta(days=span // 2),
                    s.playoffs_end - dt.timedelta(days=12)]
    alive = sorted(TEAMS, key=lambda t: -strength[t])[:16]
    pairs = [(alive[i], alive[15 - i]) for i in range(8)]
    out = []
    for rnd, start in enumerate(round_starts, 1):
        winners = []
        for sn, (hi, lo) in enumerate(pairs):
            wins = {hi: 0, lo: 0}
            g = 0
            while max(wins.values()) < 4:
                home = hi if g in (0, 1, 4, 6) else lo
                day = start + dt.timedelta(days=2 * g + sn % 2)
                out.append((day, home, lo if home == hi else hi, f"{rnd}{sn}{g + 1}"))
                p_hi = strength[hi] / (strength[hi] + strength[lo])
                wins[hi if rng.random() < p_hi else lo] += 1
                g += 1
            winners.append(hi if wins[hi] == 4 else lo)
        pairs = [(winners[i], winners[len(winners) - 1 - i]) for i in range(len(winners) // 2)]
    return out


def _overtime(rng: random.Random) -> int:
    r = rng.random()
    return 0 if r >= 0.06 else 1 if r >= 0.009 else 2 if r >= 0.0015 else 3


def _count(rng: random.Random, mean: float) -> int:
    # a cheap Poisson-like count: normal with variance = mean, rounded, never negative
    return max(0, round(rng.gauss(mean, mean ** 0.5))) if mean > 0 else 0


def _binom(rng: random.Random, n: int, p: float) -> int:
    r = rng.random
    return sum(1 for _ in range(n) if r() < p)


def _team_players(rng: random.Random, roster: list[Player], overtime: int) -> list[tuple[Player, bool, float]]:
    active = [p for p in roster if rng.random() > 0.2]
    if len(active) < 9:
        active = roster[:]
        rng.shuffle(active)
        active = active[:9]
    weights = {p.player_id: p.minutes_weight * rng.uniform(0.8, 1.2) for p in active}
    active.sort(key=lambda p: -weights[p.player_id])
    dnp = active[-1] if rng.random() < 0.35 else None
    playing = [p for p in active if p is not dnp]
    units = 4 * (240 + 25 * overtime)  # quarter minutes: sums stay exact in binary floating point
    # starters play most; a steep curve over the rotation, then largest-remainder rounding to the total
    shares = [weights[p.player_id] * (3.2 if i < 5 else 1.6 if i < 8 else 0.7) for i, p in enumerate(playing)]
    raw = [units * w / sum(shares) for w in shares]
    alloc = [int(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: alloc[i] - raw[i])[:units - sum(alloc)]:
        alloc[i] += 1
    cap = 4 * (44 + 5 * overtime)
    excess = sum(max(0, a - cap) for a in alloc)
    alloc = [min(a, cap) for a in alloc]
    while excess:  # hand minutes above the cap to the bench, one quarter-minute at a time
        i = min(range(len(alloc)), key=lambda i: alloc[i])
        alloc[i] += 1
        excess -= 1
    out = [(p, i < 5, alloc[i] / 4) for i, p in enumerate(playing)]
    if dnp is not None:
        out.append((dnp, False, 0.0))
    return out


def _player_line(rng: random.Random, p: Player, minutes: float) -> list[int]:
    if minutes == 0:
        return [0] * 14
    fga = _count(rng, minutes * p.fga_rate)
    tpa = min(fga, _count(rng, fga * p.three_share))
    tpm = _binom(rng, tpa, p.fg3_pct)
    fgm = tpm + _binom(rng, fga - tpa, p.fg2_pct)
    fta = _count(rng, fga * p.ft_rate)
    ftm = _binom(rng, fta, p.ft_pct)
    reb = _count(rng, minutes * p.reb_rate)
    oreb = _binom(rng, reb, 0.23)
    return [2 * fgm + tpm + ftm, fgm, fga, tpm, tpa, ftm, fta, oreb, reb - oreb, _count(rng, minutes * p.ast_rate),
            _count(rng, minutes * 0.028), _count(rng, minutes * 0.018), _count(rng, minutes * 0.045),
            min(6, _count(rng, minutes * 0.065))]


def _zones(rng: random.Random, line: list[int]) -> list[int]:
    _, fgm, fga, tpm, tpa = line[:5]
    twos, two_makes = fga - tpa, fgm - tpm
    paint = _binom(rng, twos, 0.68)
    mid = twos - paint
    paint_makes = min(paint, max(two_makes - mid, round(two_makes * rng.uniform(0.6, 0.85))))
    return [paint, paint_makes, mid, two_makes - paint_makes, tpa, tpm, _binom(rng, fgm, 0.6)]


def _box(rng: random.Random, g: Game, rosters: dict[str, list[Player]], out: SeasonData) -> None:
    has_zones = rng.random() < 0.45
    sides = []
    for team, opp, home in ((g.home, g.away, True), (g.away, g.home, False)):
        lines = [(p, starter, minutes, _player_line(rng, p, minutes))
                 for p, starter, minutes in _team_players(rng, rosters[team], g.overtime)]
        sides.append((team, opp, home, lines))
    totals = [[sum(line[3][k] for line in side[3]) for k in range(14)] for side in sides]
    if totals[0][0] == totals[1][0]:  # no ties in basketball: the home side's top scorer hits one more free throw
        line = max(sides[0][3], key=lambda x: x[2])[3]
        for k in (0, 5, 6):
            line[k] += 1
            totals[0][k] += 1
    common = (g.game_id, g.game_date, g.season)
    for (team, opp, home, lines), tot in zip(sides, totals):
        out.team_rows.append(common + (team, opp, home, 240 + 25 * g.overtime, *tot))
        for p, starter, minutes, line in lines:
            out.player_rows.append(common + (team, p.player_id, p.name, starter, minutes, *line))
            if has_zones and minutes > 0:
                out.zone_rows.append((g.game_id, g.game_date, p.player_id, team, *_zones(rng, line)))


def generate_season(s: Season, rosters: dict[str, list[Player]], seed: int, start: dt.date,
                    end: dt.date) -> SeasonData:
    """All games of season `s` whose date lies in [start, end], with their box scores."""
    rng = random.Random(f"{seed}:{s.name}")
    strength = {t: rng.uniform(0.6, 1.4) for t in TEAMS}
    yy = s.name[2:4]
    games = [Game(f"002{yy}{n:05d}", d, s.name, h, a, _overtime(rng), "regular")
             for n, (d, h, a) in enumerate(_regular_schedule(rng, s), 1)]
    games += [Game(f"004{yy}00{code}", d, s.name, h, a, _overtime(rng), "playoffs")
              for d, h, a, code in _playoff_schedule(rng, s, strength)]
    games.sort(key=lambda g: (g.game_date, g.game_id))
    out = SeasonData()
    for g in games:
        # every game draws its box score from its own stream, so the range asked for does not change it
        grng = random.Random(f"{seed}:{g.game_id}")
        if start <= g.game_date <= end:
            out.games.append(g)
            _box(grng, g, rosters, out)
    return out
