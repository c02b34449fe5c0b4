-- policies/acme.mql decided by hand in DuckDB SQL, as of 2026-11-01T00:00:00Z: the baseline
-- that benchmarks/sql_speed.py measures the compiled query (`mqldsl sql policies/acme.mql`)
-- against. Written the way a data engineer who knows the policy would write it: fit once per
-- lead from the profile, and the event counts of each window at every instant of the lead's
-- timeline from RANGE window frames (a `within D` window is (t - D, t], hence the frames of
-- D minus one microsecond). Same output columns as the compiled query.
WITH ev AS (
  SELECT lead_id, "at" AS t, type, path, kind
  FROM events
  WHERE "at" <= TIMESTAMP '2026-11-01 00:00:00'
),
instants AS (
  SELECT lead_id, t FROM ev
  UNION SELECT lead_id, t + INTERVAL 14 DAY FROM ev WHERE t + INTERVAL 14 DAY <= TIMESTAMP '2026-11-01 00:00:00'
  UNION SELECT lead_id, t + INTERVAL 30 DAY FROM ev WHERE t + INTERVAL 30 DAY <= TIMESTAMP '2026-11-01 00:00:00'
  UNION SELECT lead_id, t + INTERVAL 60 DAY FROM ev WHERE t + INTERVAL 60 DAY <= TIMESTAMP '2026-11-01 00:00:00'
  UNION SELECT id, TIMESTAMP '2026-11-01 00:00:00' FROM leads
),
stream AS (
  SELECT lead_id, t, type, path, kind, TRUE AS is_event FROM ev
  UNION ALL
  SELECT lead_id, t, NULL, NULL, NULL, FALSE FROM instants
),
counted AS (
  SELECT
    lead_id, t, is_event,
    count(*) FILTER (WHERE type = 'page_view' AND starts_with(path, '/pricing')) OVER w14 AS pricing14,
    count(*) FILTER (WHERE type = 'page_view') OVER w30 AS views30,
    count(*) FILTER (WHERE type = 'content_download' AND kind IN ('case_study', 'comparison_guide')) OVER w30 AS downloads30,
    count(*) FILTER (WHERE type = 'webinar_attended') OVER w30 AS webinars30,
    count(*) FILTER (WHERE type = 'demo_request') OVER w60 AS demos60,
    count(*) FILTER (WHERE type = 'trial_started') OVER w30 AS trials30,
    count(*) FILTER (WHERE type = 'feature_used') OVER w14 AS features14,
    count(*) FILTER (WHERE type = 'roi_calc_request') OVER w60 AS roi60,
    count(*) FILTER (WHERE is_event) OVER w30 AS any30,
    count(*) FILTER (WHERE type = 'newsletter_signup') OVER ever AS newsletters,
    count(*) FILTER (WHERE type IN ('content_download', 'trial_started')) OVER ever AS engaged,
    count(*) FILTER (WHERE type = 'sales_accepted') OVER ever AS accepted,
    count(*) FILTER (WHERE type = 'unsubscribe') OVER ever AS unsubscribed
  FROM stream
  WINDOW
    w14 AS (PARTITION BY lead_id ORDER BY t RANGE BETWEEN INTERVAL '13 days 23:59:59.999999' PRECEDING AND CURRENT ROW),
    w30 AS (PARTITION BY lead_id ORDER BY t RANGE BETWEEN INTERVAL '29 days 23:59:59.999999' PRECEDING AND CURRENT ROW),
    w60 AS (PARTITION BY lead_id ORDER BY t RANGE BETWEEN INTERVAL '59 days 23:59:59.999999' PRECEDING AND CURRENT ROW),
    ever AS (PARTITION BY lead_id ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
fit AS (
  SELECT
    id, channel, email_kind,
    (CASE WHEN company_size BETWEEN 200 AND 5000 THEN 20 ELSE 0 END)
    + (CASE WHEN company_size BETWEEN 50 AND 199 THEN 10 ELSE 0 END)
    + (CASE WHEN role IN ('security_engineer', 'secops') THEN 15 ELSE 0 END)
    + (CASE WHEN role = 'it_manager' THEN 5 ELSE 0 END)
    + (CASE WHEN seniority IN ('director', 'vp', 'c_level') THEN 10 ELSE 0 END)
    + (CASE WHEN industry IN ('fintech', 'healthcare', 'saas') THEN 10 ELSE 0 END)
    + (CASE WHEN region IN ('na', 'emea') THEN 5 ELSE 0 END)
    + (CASE WHEN list_contains(tech_stack, 'aws') THEN 5 ELSE 0 END)
    - (CASE WHEN email_kind = 'personal' THEN 30 ELSE 0 END)
    - (CASE WHEN email_kind = 'competitor' THEN 100 ELSE 0 END) AS fit
  FROM leads
),
scored AS (
  SELECT
    c.lead_id, c.t, f.fit, f.channel,
    least(5 * pricing14, 20) + least(2 * views30, 10) + least(10 * downloads30, 20)
    + (CASE WHEN webinars30 > 0 THEN 15 ELSE 0 END)
    + (CASE WHEN demos60 > 0 THEN 30 ELSE 0 END)
    + (CASE WHEN trials30 > 0 THEN 25 ELSE 0 END)
    + least(5 * features14, 20)
    + (CASE WHEN roi60 > 0 THEN 20 ELSE 0 END)
    - (CASE WHEN any30 = 0 THEN 20 ELSE 0 END) AS intent,
    f.email_kind = 'competitor' AS competitor,
    unsubscribed > 0 AS unsubscribed,
    demos60, newsletters, engaged, accepted
  FROM counted c JOIN fit f ON f.id = c.lead_id
  WHERE NOT c.is_event
),
staged AS (
  SELECT
    *,
    CASE
      WHEN competitor OR unsubscribed THEN 'disqualified'
      WHEN accepted > 0 THEN 'sql'
      WHEN fit >= 30 AND intent >= 40 OR demos60 > 0 AND fit >= 10 THEN 'mql'
      WHEN engaged > 0 THEN 'lead'
      WHEN newsletters > 0 THEN 'subscriber'
      ELSE 'visitor'
    END AS stage
  FROM scored
),
marked AS (
  SELECT
    *,
    stage IS DISTINCT FROM lag(stage) OVER (PARTITION BY lead_id ORDER BY t) AS starts,
    CASE
      WHEN stage = 'mql' AND channel = 'inbound' THEN 0
      WHEN stage = 'mql' THEN 1
      WHEN stage = 'sql' THEN 2
    END AS route
  FROM staged
),
decided AS (
  SELECT
    lead_id,
    arg_max(stage, t) AS stage,
    arg_max(fit, t) AS fit,
    arg_max(intent, t) AS intent,
    arg_max(competitor, t) AS competitor,
    arg_max(unsubscribed, t) AS unsubscribed,
    arg_max_null(route, t) FILTER (WHERE starts) AS route,
    max(t) FILTER (WHERE starts) AS last_start,
    max(t) FILTER (WHERE starts AND stage = 'disqualified') AS entered_disqualified,
    max(t) FILTER (WHERE starts AND stage = 'visitor') AS entered_visitor,
    max(t) FILTER (WHERE starts AND stage = 'subscriber') AS entered_subscriber,
    max(t) FILTER (WHERE starts AND stage = 'lead') AS entered_lead,
    max(t) FILTER (WHERE starts AND stage = 'mql') AS entered_mql,
    max(t) FILTER (WHERE starts AND stage = 'sql') AS entered_sql
  FROM marked
  GROUP BY lead_id
)
SELECT
  lead_id AS id,
  TIMESTAMP '2026-11-01 00:00:00' AS as_of,
  stage,
  CAST(fit AS DOUBLE) AS score_fit,
  CAST(intent AS DOUBLE) AS score_intent,
  list_filter([CASE WHEN competitor THEN 'Competitor' END, CASE WHEN unsubscribed THEN 'Unsubscribed' END], lambda x: x IS NOT NULL) AS disqualified,
  CASE WHEN stage <> 'disqualified' THEN ['sdr_inbound', 'sdr_outbound', 'account_exec'][route + 1] END AS queue,
  CASE WHEN stage <> 'disqualified' THEN ['5 minutes', '1 day', '1 day'][route + 1] END AS sla,
  CASE WHEN stage <> 'disqualified' THEN last_start + [INTERVAL 5 MINUTE, INTERVAL 1 DAY, INTERVAL 1 DAY][route + 1] END AS due,
  entered_disqualified, entered_visitor, entered_subscriber, entered_lead, entered_mql, entered_sql
FROM decided
ORDER BY id
