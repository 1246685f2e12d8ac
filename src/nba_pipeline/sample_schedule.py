"""Season schedules of the sample data: the NBA's 82-game format (41 home, 41 away) laid over the calendar.

The matchups follow the league's rule: 4 games against each division rival, 4 against six and 3 against four
of the other ten conference teams, 2 against each team of the other conference. Which four conference
opponents are met only three times rotates with the season; a three-game series is hosted twice by one side,
oriented so that every team hosts exactly 6 of its 12 such games. The matchups are then placed on game days
(no team twice a day, none three days running), and any game the day-by-day pass could not place goes to the
latest day where both teams are free: a season always holds 30 * 82 / 2 = 1,230 regular-season games.
"""
from __future__ import annotations

import datetime as dt
import random

from backfill_orchestrator.dates import Season

DIVISIONS = {
    "East": (("BOS", "BKN", "NYK", "PHI", "TOR"), ("CHI", "CLE", "DET", "IND", "MIL"),
             ("ATL", "CHA", "MIA", "ORL", "WAS")),
    "West": (("DEN", "MIN", "OKC", "POR", "UTA"), ("GSW", "LAC", "LAL", "PHX", "SAC"),
             ("DAL", "HOU", "MEM", "NOP", "SAS")),
}
TEAMS = sorted(t for conf in DIVISIONS.values() for div in conf for t in div)
REGULAR_GAMES = 82
MAX_GAMES_PER_DAY = 15


def matchups(rotation: int) -> list[tuple[str, str]]:
    """Every regular-season game of a season as (home, away), before dates are given."""
    games: list[tuple[str, str]] = []

    def series(a: str, b: str, n: int, a_hosts: int) -> None:
        games.extend([(a, b)] * a_hosts + [(b, a)] * (n - a_hosts))

    east, west = DIVISIONS["East"], DIVISIONS["West"]
    for a in (t for div in east for t in div):
        for b in (t for div in west for t in div):
            series(a, b, 2, 1)
    for conf in (east, west):
        for div in conf:
            for i, a in enumerate(div):
                for b in div[i + 1:]:
                    series(a, b, 4, 2)
        for x, y in ((0, 1), (1, 2), (2, 0)):
            for i, a in enumerate(conf[x]):
                for j, b in enumerate(conf[y]):
                    k = (j - i - rotation) % 5
                    # k = 0: a hosts two of three; k = 1: b hosts two; every team gets one of each per division pair
                    series(a, b, 3 if k < 2 else 4, 1 if k == 1 else 2)
    return games


def no_game_days(s: Season) -> set[dt.date]:
    """All-Star break (around the third Sunday of February), Thanksgiving and Christmas Eve."""
    feb1 = dt.date(s.regular_end.year, 2, 1)
    third_sunday = feb1 + dt.timedelta(days=(6 - feb1.weekday()) % 7 + 14)
    nov1 = dt.date(s.start.year, 11, 1)
    thanksgiving = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
    return {third_sunday + dt.timedelta(days=i) for i in range(-3, 3)} | {thanksgiving, dt.date(s.start.year, 12, 24)}


def regular_schedule(rng: random.Random, s: Season) -> list[tuple[dt.date, str, str]]:
    """(date, home, away) for the 1,230 games of the regular season, in date order."""
    games = matchups(rng.randrange(5))
    closed = no_game_days(s)
    days = [d for d in (s.start + dt.timedelta(days=i) for i in range((s.regular_end - s.start).days + 1))
            if d not in closed]
    weights = [rng.uniform(0.6, 1.4) * (1.25 if d.weekday() in (2, 4, 5) else 1.0) for d in days]
    scale = len(games) / sum(weights)
    pending: dict[str, list[int]] = {t: [] for t in TEAMS}
    order = list(range(len(games)))
    rng.shuffle(order)
    for gi in order:
        for t in games[gi]:
            pending[t].append(gi)
    done = [False] * len(games)
    remaining = {t: REGULAR_GAMES for t in TEAMS}
    played = {t: 0 for t in TEAMS}
    hosted = {t: 0 for t in TEAMS}
    last: dict[str, list[int]] = {t: [-9, -9] for t in TEAMS}  # day indexes of the team's last two games
    placed: list[tuple[int, int]] = []  # (day index, game index)
    for di, d in enumerate(days):
        left = len(days) - di
        quota = min(MAX_GAMES_PER_DAY, max(2, round(weights[di] * scale)))
        used: set[str] = set()

        def free(t: str) -> bool:
            return t not in used and remaining[t] > 0 and not (last[t][1] == di - 1 and last[t][0] == di - 2)

        # the teams furthest behind go first; one that played yesterday waits unless it is short of days
        ranked = sorted(TEAMS, key=lambda t: -(remaining[t] / left) + (0.25 if last[t][1] == di - 1 else 0.0)
                        + 0.2 * rng.random())
        n_today = 0
        urgent = sum(1 for t in TEAMS if remaining[t] >= 0.55 * left)
        for t in ranked:
            if n_today >= max(quota, (urgent + 1) // 2):
                break
            if not free(t):
                continue
            best, best_score = None, 0.0
            for gi in pending[t]:
                if done[gi]:
                    continue
                home, away = games[gi]
                o = home if away == t else away
                if not free(o):
                    continue
                # opponents with many games left and a rest day first; keep every team's home/away split even as it goes
                score = remaining[o] - 4 * (abs(hosted[home] + 1 - played[home] / 2 - 0.5)
                                            + abs(hosted[away] - played[away] / 2 - 0.5)) \
                    - (3 if last[o][1] == di - 1 else 0)
                if best is None or score > best_score:
                    best, best_score = (gi, o), score
            if best is None:
                continue
            gi, o = best
            done[gi] = True
            hosted[games[gi][0]] += 1
            for x in (t, o):
                used.add(x)
                remaining[x] -= 1
                played[x] += 1
                last[x] = [last[x][1], di]
            placed.append((di, gi))
            n_today += 1
        if di % 5 == 4:
            pending = {t: [gi for gi in v if not done[gi]] for t, v in pending.items()}
    placed += _place_leftovers(games, done, placed, len(days))
    placed.sort()
    return [(days[di], *games[gi]) for di, gi in placed]


def _place_leftovers(games: list[tuple[str, str]], done: list[bool], placed: list[tuple[int, int]],
                     n_days: int) -> list[tuple[int, int]]:
    busy: dict[int, set[str]] = {}
    for di, gi in placed:
        busy.setdefault(di, set()).update(games[gi])
    out = []
    for gi, g in enumerate(games):
        if done[gi]:
            continue
        for di in range(n_days - 1, -1, -1):
            teams = busy.setdefault(di, set())
            if len(teams) < 2 * MAX_GAMES_PER_DAY and not teams & set(g):
                teams.update(g)
                out.append((di, gi))
                break
        else:  # cannot happen with a season of 150+ game days; fail loudly rather than drop a game
            raise RuntimeError(f"no free day for {g}")
    return out


def playoff_schedule(rng: random.Random, s: Season, strength: dict[str, float]) -> list[tuple[dt.date, str, str, str]]:
    """(date, home, away, series code) for four best-of-7 rounds of the 16 strongest teams."""
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
