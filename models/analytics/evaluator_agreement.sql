-- One row per template and pair of raters (judge models, and `human`).
-- 1. A rater's value for a target node under a template is the mean of its
--    parsed scores there (samples and repeated runs averaged). A human score
--    without a template counts under every template judged on that node.
-- 2. Pairs are the raters' common target nodes; a judge comes first, `human`
--    last, judges in name order.
-- 3. spearman_rho is the Pearson correlation of average ranks (ties share the
--    mean of their ranks); weighted_kappa is quadratic-weighted Cohen's kappa on
--    scores rounded half up to integers, in its closed form
--    1 - mean((a - b)^2) / (var(a) + var(b) + (mean(a) - mean(b))^2)
--    with population variances (the weight normalisation cancels).
-- 4. krippendorff_alpha (interval) uses every rater of the template over the
--    nodes with two or more values: 1 - (n - 1) x sum_u(m_u x SS_u / (m_u - 1))
--    / (n x SS_total), n values, m_u values and SS_u squared deviations from
--    the mean in node u, SS_total around the mean of all n values.
-- Statistics are null where undefined (a constant rater, fewer than 2 nodes).

with

scores as (
    select * from {{ ref('judge_scores') }}
    where parse_status = 'parsed'
),

judged_templates as (
    select distinct
        template_name,
        tenant_id,
        target_node_id
    from scores
    where rater_kind = 'judge' and template_name is not null
),

templated as (
    select
        scores.rater,
        scores.rater_kind,
        scores.tenant_id,
        scores.target_node_id,
        scores.score,
        coalesce(scores.template_name, judged_templates.template_name) as template_name
    from scores
    left join judged_templates
        on
            scores.template_name is null
            and scores.rater_kind = 'human'
            and scores.tenant_id = judged_templates.tenant_id
            and scores.target_node_id = judged_templates.target_node_id
),

ratings as (
    select
        template_name,
        rater,
        tenant_id,
        target_node_id,
        max(case when rater_kind = 'human' then 1 else 0 end) as is_human,
        avg(score) as score
    from templated
    where template_name is not null
    group by template_name, rater, tenant_id, target_node_id
),

pairs as (
    select
        a.template_name,
        a.rater as rater_a,
        b.rater as rater_b,
        a.tenant_id,
        a.target_node_id,
        a.score as score_a,
        b.score as score_b,
        floor(a.score + 0.5) as rounded_a,
        floor(b.score + 0.5) as rounded_b
    from ratings as a
    inner join ratings as b
        on
            a.template_name = b.template_name
            and a.tenant_id = b.tenant_id
            and a.target_node_id = b.target_node_id
            and a.is_human = 0
            and (b.is_human = 1 or a.rater < b.rater)
),

ranked as (
    select
        pairs.*,
        rank() over (
            partition by pairs.template_name, pairs.rater_a, pairs.rater_b order by pairs.score_a
        ) + (count(*) over (
            partition by pairs.template_name, pairs.rater_a, pairs.rater_b, pairs.score_a
        ) - 1) / 2.0 as rank_a,
        rank() over (
            partition by pairs.template_name, pairs.rater_a, pairs.rater_b order by pairs.score_b
        ) + (count(*) over (
            partition by pairs.template_name, pairs.rater_a, pairs.rater_b, pairs.score_b
        ) - 1) / 2.0 as rank_b
    from pairs
),

pair_stats as (
    select
        template_name,
        rater_a,
        rater_b,
        count(*) as common_targets,
        covar_pop(rank_a, rank_b)
        / nullif(stddev_pop(rank_a) * stddev_pop(rank_b), 0) as spearman_rho,
        1 - avg((rounded_a - rounded_b) * (rounded_a - rounded_b))
        / nullif(
            var_pop(rounded_a) + var_pop(rounded_b)
            + (avg(rounded_a) - avg(rounded_b)) * (avg(rounded_a) - avg(rounded_b)),
            0
        ) as weighted_kappa,
        avg(abs(score_a - score_b)) as mean_abs_diff
    from ranked
    group by template_name, rater_a, rater_b
),

unit_values as (
    select
        ratings.template_name,
        ratings.tenant_id,
        ratings.target_node_id,
        ratings.score,
        count(*) over (
            partition by ratings.template_name, ratings.tenant_id, ratings.target_node_id
        ) as unit_size,
        avg(ratings.score) over (
            partition by ratings.template_name, ratings.tenant_id, ratings.target_node_id
        ) as unit_mean
    from ratings
),

pairable as (
    select
        unit_values.*,
        avg(unit_values.score) over (partition by unit_values.template_name) as grand_mean,
        count(*) over (partition by unit_values.template_name) as value_count
    from unit_values
    where unit_values.unit_size >= 2
),

alpha as (
    select
        template_name,
        1 - (max(value_count) - 1)
        * sum(unit_size * (score - unit_mean) * (score - unit_mean) / (unit_size - 1))
        / nullif(max(value_count) * sum((score - grand_mean) * (score - grand_mean)), 0)
            as krippendorff_alpha
    from pairable
    group by template_name
),

final as (
    select
        pair_stats.template_name,
        pair_stats.rater_a,
        pair_stats.rater_b,
        pair_stats.common_targets,
        case
            when pair_stats.common_targets >= 2
                then {{ trellis.round_to('pair_stats.spearman_rho', 6) }}
        end as spearman_rho,
        case
            when pair_stats.common_targets >= 2
                then {{ trellis.round_to('pair_stats.weighted_kappa', 6) }}
        end as weighted_kappa,
        {{ trellis.round_to('pair_stats.mean_abs_diff', 6) }} as mean_abs_diff,
        {{ trellis.round_to('alpha.krippendorff_alpha', 6) }} as krippendorff_alpha
    from pair_stats
    left join alpha
        on pair_stats.template_name = alpha.template_name
)

select * from final
