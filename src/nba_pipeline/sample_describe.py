"""Figures measured back from the raw tables of a warehouse: box-score identities, schedule, distributions and the
effects a points model can learn (docs/sample-data.md says what each should be and why).

Everything is computed by SQL (BigQuery dialect, run on either backend) over `nba_raw`, so it describes whatever
the tables hold: the generated sample, a faulty variant of it, or real data loaded under the same schema.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import statistics
from dataclasses import dataclass, field

from backfill_orchestrator.dates import Calendar
from backfill_orchestrator.warehouse import Warehouse

from .tables import PLAYER_BOX, SCHEDULE, SHOT_ZONES, TEAM_BOX

# a player "qualifies" for a season's leaderboards with games played >= this share of his team's games so far
# (the NBA's old 70% rule; its 65-game rule needs a full season)
QUALIFYING_SHARE = 0.7

_TEAM_GAMES = f"""
  SELECT t.*, t.fg_attempts + 0.44 * t.ft_attempts - t.offensive_rebounds + t.turnovers AS poss
  FROM {TEAM_BOX} AS t JOIN (SELECT DISTINCT game_id FROM {SCHEDULE} WHERE game_type = 'regular') AS s
    ON s.game_id = t.game_id"""

IDENTITIES_SQL = f"""
WITH p AS (
  SELECT game_id, team_id, SUM(minutes) AS minutes, SUM(points) AS points, SUM(fg_makes) AS fgm,
    SUM(fg_attempts) AS fga, SUM(three_makes) AS tpm, SUM(three_attempts) AS tpa, SUM(ft_makes) AS ftm,
    SUM(ft_attempts) AS fta, SUM(offensive_rebounds) AS oreb, SUM(defensive_rebounds) AS dreb,
    SUM(assists) AS ast, SUM(steals) AS stl, SUM(blocks) AS blk, SUM(turnovers) AS tov,
    SUM(personal_fouls) AS pf
  FROM {PLAYER_BOX} GROUP BY game_id, team_id
), z AS (
  SELECT game_id, team_id, SUM(assisted_fg_makes) AS assisted FROM {SHOT_ZONES} GROUP BY game_id, team_id
), t AS (
  SELECT t.*, o.fg_attempts AS o_fga, o.fg_makes AS o_fgm, o.three_attempts AS o_tpa, o.three_makes AS o_tpm,
    o.turnovers AS o_tov, o.defensive_rebounds AS o_dreb
  FROM {TEAM_BOX} AS t JOIN {TEAM_BOX} AS o ON o.game_id = t.game_id AND o.team_id = t.opponent_id
)
SELECT
  COUNT(*) AS team_games,
  COUNTIF(t.points <> 2 * t.fg_makes + t.three_makes + t.ft_makes) AS points_formula,
  COUNTIF(p.game_id IS NULL OR t.minutes <> p.minutes OR t.points <> p.points OR t.fg_makes <> p.fgm
    OR t.fg_attempts <> p.fga OR t.three_makes <> p.tpm OR t.three_attempts <> p.tpa OR t.ft_makes <> p.ftm
    OR t.ft_attempts <> p.fta OR t.offensive_rebounds <> p.oreb OR t.defensive_rebounds <> p.dreb
    OR t.assists <> p.ast OR t.steals <> p.stl OR t.blocks <> p.blk OR t.turnovers <> p.tov
    OR t.personal_fouls <> p.pf) AS team_equals_sum_of_players,
  COUNTIF(t.assists > t.fg_makes) AS assists_at_most_fgm,
  COUNTIF(z.game_id IS NOT NULL AND t.assists <> z.assisted) AS assists_equal_assisted_makes,
  COUNTIF(t.steals > t.o_tov) AS steals_at_most_opponent_turnovers,
  COUNTIF(t.offensive_rebounds + t.defensive_rebounds > (t.fg_attempts - t.fg_makes) + (t.o_fga - t.o_fgm))
    AS rebounds_at_most_available_misses,
  COUNTIF(t.offensive_rebounds + t.o_dreb > t.fg_attempts - t.fg_makes) AS own_misses_rebounded_once,
  COUNTIF(t.blocks > t.o_fga - t.o_fgm) AS blocks_at_most_opponent_misses,
  COUNTIF(t.three_makes > t.three_attempts OR t.fg_makes > t.fg_attempts OR t.ft_makes > t.ft_attempts
    OR t.three_attempts > t.fg_attempts) AS makes_at_most_attempts
FROM t
LEFT JOIN p ON p.game_id = t.game_id AND p.team_id = t.team_id
LEFT JOIN z ON z.game_id = t.game_id AND z.team_id = t.team_id
"""

PLAYER_IDENTITIES_SQL = f"""
SELECT
  COUNTIF(p.points <> 2 * p.fg_makes + p.three_makes + p.ft_makes) AS player_points_formula,
  COUNTIF(z.game_id IS NOT NULL AND (z.paint_attempts + z.mid_range_attempts + z.three_attempts <> p.fg_attempts
    OR z.paint_makes + z.mid_range_makes + z.three_makes <> p.fg_makes OR z.three_attempts <> p.three_attempts
    OR z.paint_makes > z.paint_attempts OR z.mid_range_makes > z.mid_range_attempts
    OR z.assisted_fg_makes > p.fg_makes)) AS zones_match_box_score
FROM {PLAYER_BOX} AS p
LEFT JOIN {SHOT_ZONES} AS z ON z.game_id = p.game_id AND z.player_id = p.player_id
"""

SCHEDULE_SQL = f"""
SELECT season, team_id, COUNT(*) AS games, COUNTIF(is_home) AS home_games FROM ({_TEAM_GAMES})
GROUP BY season, team_id
"""

SEASON_SQL = f"""
WITH g AS ({_TEAM_GAMES})
SELECT a.season, COUNT(DISTINCT a.game_id) AS games, AVG(a.points) AS points,
  AVG(48 * (a.poss + b.poss) / (2 * (a.minutes / 5))) AS pace
FROM g AS a JOIN g AS b ON b.game_id = a.game_id AND b.team_id = a.opponent_id
GROUP BY a.season
"""

PLAYER_SEASON_SQL = f"""
SELECT p.season, p.team_id, p.player_id, MAX(p.player_name) AS name, COUNT(*) AS games, AVG(p.minutes) AS minutes,
  AVG(p.points) AS points
FROM {PLAYER_BOX} AS p JOIN (SELECT DISTINCT game_id FROM {SCHEDULE} WHERE game_type = 'regular') AS s
  ON s.game_id = p.game_id
WHERE p.minutes > 0
GROUP BY p.season, p.team_id, p.player_id
"""

EFFECTS_SQL = f"""
WITH g AS ({_TEAM_GAMES}),
tg AS (
  SELECT a.season, a.team_id, a.opponent_id, a.game_date, a.is_home, a.points,
    48 * (a.poss + b.poss) / (2 * (a.minutes / 5)) AS pace, b.points AS opp_points, b.poss AS opp_poss,
    DATE_DIFF(a.game_date, LAG(a.game_date) OVER (PARTITION BY a.season, a.team_id ORDER BY a.game_date), DAY)
      AS days_since
  FROM g AS a JOIN g AS b ON b.game_id = a.game_id AND b.team_id = a.opponent_id
), ts AS (
  SELECT season, team_id, AVG(points) AS points, AVG(pace) AS pace,
    100 * SUM(opp_points) / SUM(opp_poss) AS def_rating, COUNTIF(days_since = 1) AS back_to_backs
  FROM tg GROUP BY season, team_id
), ranked AS (
  SELECT ts.*, NTILE(3) OVER (PARTITION BY season ORDER BY def_rating) AS def_third FROM ts
), rel AS (
  SELECT tg.*, tg.points - own.points AS rel_points, opp.def_third
  FROM tg JOIN ts AS own ON own.season = tg.season AND own.team_id = tg.team_id
  JOIN ranked AS opp ON opp.season = tg.season AND opp.team_id = tg.opponent_id
)
SELECT
  AVG(CASE WHEN is_home THEN points END) - AVG(CASE WHEN NOT is_home THEN points END) AS home_minus_away,
  AVG(CASE WHEN days_since = 1 THEN rel_points END) - AVG(CASE WHEN days_since > 1 THEN rel_points END)
    AS back_to_back,
  AVG(CASE WHEN def_third = 3 THEN rel_points END) - AVG(CASE WHEN def_third = 1 THEN rel_points END)
    AS weak_minus_strong_defense,
  (SELECT STDDEV_SAMP(pace) FROM ts) AS team_pace_sd,
  (SELECT STDDEV_SAMP(def_rating) FROM ts) AS def_rating_sd,
  (SELECT AVG(back_to_backs) FROM ts) AS back_to_backs_per_team_season
FROM rel
"""

STARTER_NOISE_SQL = f"""
WITH w AS (
  SELECT starter, points,
    AVG(points) OVER (PARTITION BY season, player_id ORDER BY game_date, game_id
                      ROWS BETWEEN 10 PRECEDING AND 1 PRECEDING) AS prev_mean,
    COUNT(*) OVER (PARTITION BY season, player_id ORDER BY game_date, game_id
                   ROWS BETWEEN 10 PRECEDING AND 1 PRECEDING) AS prev_n
  FROM {PLAYER_BOX} WHERE minutes > 0
)
SELECT SQRT(AVG(POW(points - prev_mean, 2))) AS sd, COUNT(*) AS n FROM w WHERE starter AND prev_n = 10
"""


@dataclass
class SeasonFigures:
    season: str
    complete: bool  # the whole regular season lies inside the data
    regular_games: int
    team_games_min: int
    team_games_max: int
    home_games_min: int
    home_games_max: int
    points_per_team_game: float
    pace: float
    players_36_minutes: int  # qualified players averaging 36+ minutes
    leading_scorer: str
    leading_scorer_points: float


@dataclass
class Effects:
    """Each in points unless named otherwise; None where the data cannot tell (e.g. one season only).
    back_to_back: second night of a back-to-back minus other games, each vs the team's season mean;
    weak_minus_strong_defense: vs the third of opponents allowing most per 100 possessions minus the third
    allowing least, each vs the team's season mean; sds are across team-seasons; starter_points_sd_vs_last10:
    root mean square of a starter's points minus his mean over his previous 10 games of the season;
    season_to_season_points_corr: a player's points per game in one season vs the next (20+ games each)."""
    home_minus_away_points: float | None = None
    back_to_back_points: float | None = None
    weak_minus_strong_defense_points: float | None = None
    team_pace_sd: float | None = None
    defensive_rating_sd: float | None = None
    back_to_backs_per_team_season: float | None = None
    starter_points_sd_vs_last10: float | None = None
    starter_rows_measured: int = 0
    season_to_season_points_corr: float | None = None


@dataclass
class SampleDescription:
    first_date: dt.date | None
    last_date: dt.date | None
    identities: dict[str, int] = field(default_factory=dict)  # identity -> team-games (or rows) violating it
    seasons: list[SeasonFigures] = field(default_factory=list)
    effects: Effects | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), default=str, indent=2)

    def render(self) -> str:
        out = [f"sample description: {self.first_date}..{self.last_date}", "box-score identities (violations):"]
        out += [f"  {k:38} {v}" for k, v in self.identities.items()]
        out.append("seasons (regular season):")
        out.append(f"  {'season':8} {'full':4} {'games':>5} {'team games':>10} {'home':>7} {'pts/tg':>6} {'pace':>5} "
                   f"{'36+min':>6}  leading scorer")
        for s in self.seasons:
            out.append(f"  {s.season:8} {'yes' if s.complete else 'no':4} {s.regular_games:5} "
                       f"{s.team_games_min:>4}..{s.team_games_max:<4} {s.home_games_min:>3}..{s.home_games_max:<3} "
                       f"{s.points_per_team_game:6.1f} {s.pace:5.1f} {s.players_36_minutes:6}  "
                       f"{s.leading_scorer_points:.1f} ({s.leading_scorer})")
        if self.effects:
            out.append("effects:")
            out += [f"  {k:38} {v}" for k, v in dataclasses.asdict(self.effects).items()]
        return "\n".join(out)


def describe(wh: Warehouse, calendar: Calendar) -> SampleDescription:
    span = wh.query(f"SELECT MIN(game_date) AS a, MAX(game_date) AS b FROM {SCHEDULE}")[0]
    d = SampleDescription(span["a"], span["b"])
    if d.first_date is None:
        return d
    d.identities = identities(wh)
    player_rows = wh.query(PLAYER_SEASON_SQL)
    d.seasons = _seasons(wh, calendar, d.first_date, d.last_date, player_rows)
    d.effects = _effects(wh, calendar, player_rows)
    return d


def identities(wh: Warehouse) -> dict[str, int]:
    """identity -> number of team-games (player rows for the last two) that break it; all 0 on sample data."""
    ident = wh.query(IDENTITIES_SQL)[0]
    ident.pop("team_games")
    return {k: int(v or 0) for k, v in {**ident, **wh.query(PLAYER_IDENTITIES_SQL)[0]}.items()}


def _seasons(wh: Warehouse, calendar: Calendar, first: dt.date, last: dt.date,
             player_rows: list[dict]) -> list[SeasonFigures]:
    teams: dict[str, list[dict]] = {}
    for r in wh.query(SCHEDULE_SQL):
        teams.setdefault(r["season"], []).append(r)
    players: dict[str, list[dict]] = {}
    for r in player_rows:
        players.setdefault(r["season"], []).append(r)
    out = []
    bounds = {s.name: s for s in calendar.seasons}
    for r in sorted(wh.query(SEASON_SQL), key=lambda r: r["season"]):
        name, ts = r["season"], teams.get(r["season"], [])
        team_games = {t["team_id"]: t["games"] for t in ts}
        qualified = [p for p in players.get(name, [])
                     if p["games"] >= QUALIFYING_SHARE * team_games.get(p["team_id"], 0)]
        top = max(qualified, key=lambda p: p["points"], default=None)
        s = bounds.get(name)
        out.append(SeasonFigures(
            name, bool(s and first <= s.start and s.regular_end <= last), r["games"],
            min(team_games.values()), max(team_games.values()), min(t["home_games"] for t in ts),
            max(t["home_games"] for t in ts), round(r["points"], 2), round(r["pace"], 2),
            sum(1 for p in qualified if p["minutes"] >= 36), top["name"] if top else "",
            round(top["points"], 1) if top else 0.0))
    return out


def _effects(wh: Warehouse, calendar: Calendar, player_rows: list[dict]) -> Effects:
    e = wh.query(EFFECTS_SQL)[0]
    noise = wh.query(STARTER_NOISE_SQL)[0]
    # season-to-season: a player's points per game over his regular-season games, all teams together
    per: dict[tuple[str, str], list[float]] = {}
    for r in player_rows:
        acc = per.setdefault((r["player_id"], r["season"]), [0, 0.0])
        acc[0] += r["games"]
        acc[1] += r["games"] * r["points"]
    following = dict(zip([s.name for s in calendar.seasons], [s.name for s in calendar.seasons][1:]))
    pairs = []
    for (pid, season), (n, points) in per.items():
        nxt = per.get((pid, following.get(season, "")))
        if n >= 20 and nxt and nxt[0] >= 20:
            pairs.append((points / n, nxt[1] / nxt[0]))
    corr = statistics.correlation(*zip(*pairs)) if len(pairs) > 2 else None

    def r2(x: float | None) -> float | None:  # None where the data cannot tell (e.g. a range of one season)
        return round(float(x), 2) if x is not None else None

    return Effects(r2(e["home_minus_away"]), r2(e["back_to_back"]), r2(e["weak_minus_strong_defense"]),
                   r2(e["team_pace_sd"]), r2(e["def_rating_sd"]), r2(e["back_to_backs_per_team_season"]),
                   r2(noise["sd"]), int(noise["n"] or 0), r2(corr))
