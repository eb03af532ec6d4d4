-- One row per replay cohort and pair of its variants (variant_a before
-- variant_b in name order), over the compared nodes both variants have
-- parsed judge scores on.
-- 1. A variant's score on a node is the mean of its parsed judge scores there
--    (every sample, judge and template); difference = score_a - score_b.
-- 2. wins / ties / losses count nodes where a scored above / equal / below b.
-- 3. p_value is the exact two-sided sign test: ties dropped, m = wins +
--    losses, p = min(1, 2 x sum_{i <= min(wins, losses)} C(m, i) / 2^m), the
--    binomial sum taken in logs (ln C(m, i) as a running sum of
--    ln((m - j + 1) / j)); 1 when m = 0.
-- 4. The 95% interval of the mean difference is a seeded percentile
--    bootstrap: var variant_bootstrap_replicates resamples of the n
--    differences with replacement, draw d of replicate r picking the
--    difference at position md5_bucket(seed|cohort|a|b|r|d, n) (positions in
--    node order), the 2.5th and 97.5th percentiles (linear) of the resample
--    means. md5 makes the draws identical on every target and every rerun.
-- 5. winner is the better variant when p_value < var variant_comparison_alpha,
--    else null.

{%- set replicates = var('variant_bootstrap_replicates') %}
{%- set seed = var('variant_bootstrap_seed') %}

with

scores as (
    select * from {{ ref('judge_scores') }}
    where
        parse_status = 'parsed'
        and rater_kind = 'judge'
        and cohort_id is not null
        and variant_name is not null
),

node_scores as (
    select
        cohort_id,
        variant_name,
        tenant_id,
        compared_node_id,
        avg(score) as score
    from scores
    group by cohort_id, variant_name, tenant_id, compared_node_id
),

paired as (
    select
        a.cohort_id,
        a.variant_name as variant_a,
        b.variant_name as variant_b,
        a.tenant_id,
        a.compared_node_id,
        a.score - b.score as difference,
        row_number() over (
            partition by a.cohort_id, a.variant_name, b.variant_name
            order by a.compared_node_id, a.tenant_id
        ) as node_position
    from node_scores as a
    inner join node_scores as b
        on
            a.cohort_id = b.cohort_id
            and a.tenant_id = b.tenant_id
            and a.compared_node_id = b.compared_node_id
            and a.variant_name < b.variant_name
),

pair_stats as (
    select
        cohort_id,
        variant_a,
        variant_b,
        count(*) as common_nodes,
        avg(difference) as mean_difference,
        count(case when difference > 0 then 1 end) as wins,
        count(case when difference = 0 then 1 end) as ties,
        count(case when difference < 0 then 1 end) as losses
    from paired
    group by cohort_id, variant_a, variant_b
),

draws as (
    select
        pair_stats.cohort_id,
        pair_stats.variant_a,
        pair_stats.variant_b,
        replicates.replicate,
        1 + {{ trellis.md5_bucket(
            "'" ~ seed ~ "|' || pair_stats.cohort_id || '|' || pair_stats.variant_a || '|'"
            ~ " || pair_stats.variant_b || '|' || cast(replicates.replicate as varchar)"
            ~ " || '|' || cast(picks.draw as varchar)",
            'pair_stats.common_nodes',
        ) }} as node_position
    from pair_stats
    cross join generate_series(1, {{ replicates }}) as replicates (replicate)
    cross join lateral generate_series(1, pair_stats.common_nodes) as picks (draw)
),

replicate_means as (
    select
        draws.cohort_id,
        draws.variant_a,
        draws.variant_b,
        draws.replicate,
        avg(paired.difference) as mean_difference
    from draws
    inner join paired
        on
            draws.cohort_id = paired.cohort_id
            and draws.variant_a = paired.variant_a
            and draws.variant_b = paired.variant_b
            and draws.node_position = paired.node_position
    group by draws.cohort_id, draws.variant_a, draws.variant_b, draws.replicate
),

bootstrap as (
    select
        cohort_id,
        variant_a,
        variant_b,
        {{ trellis.percentile_cont('mean_difference', 0.025) }} as ci_low,
        {{ trellis.percentile_cont('mean_difference', 0.975) }} as ci_high
    from replicate_means
    group by cohort_id, variant_a, variant_b
),

sign_terms as (
    select
        pair_stats.cohort_id,
        pair_stats.variant_a,
        pair_stats.variant_b,
        pair_stats.wins + pair_stats.losses as decided,
        sum(ln((pair_stats.wins + pair_stats.losses - terms.i + 1.0) / terms.i)) over (
            partition by pair_stats.cohort_id, pair_stats.variant_a, pair_stats.variant_b
            order by terms.i
        ) as ln_choose
    from pair_stats
    cross join lateral generate_series(1, least(pair_stats.wins, pair_stats.losses)) as terms (i)
),

sign_tails as (
    select
        cohort_id,
        variant_a,
        variant_b,
        sum(exp(ln_choose - decided * ln(2.0))) as tail_beyond_zero
    from sign_terms
    group by cohort_id, variant_a, variant_b
),

tested as (
    select
        pair_stats.*,
        bootstrap.ci_low,
        bootstrap.ci_high,
        case
            when pair_stats.wins + pair_stats.losses = 0 then 1.0
            else least(
                1.0,
                2 * (
                    exp(-(pair_stats.wins + pair_stats.losses) * ln(2.0))
                    + coalesce(sign_tails.tail_beyond_zero, 0)
                )
            )
        end as p_value
    from pair_stats
    left join bootstrap
        on
            pair_stats.cohort_id = bootstrap.cohort_id
            and pair_stats.variant_a = bootstrap.variant_a
            and pair_stats.variant_b = bootstrap.variant_b
    left join sign_tails
        on
            pair_stats.cohort_id = sign_tails.cohort_id
            and pair_stats.variant_a = sign_tails.variant_a
            and pair_stats.variant_b = sign_tails.variant_b
),

final as (
    select
        cohort_id,
        variant_a,
        variant_b,
        case
            when p_value < {{ var('variant_comparison_alpha') }} and mean_difference > 0
                then variant_a
            when p_value < {{ var('variant_comparison_alpha') }} and mean_difference < 0
                then variant_b
        end as winner,
        common_nodes,
        wins,
        ties,
        losses,
        {{ trellis.round_to('mean_difference', 6) }} as mean_difference,
        {{ trellis.round_to('ci_low', 6) }} as ci_low,
        {{ trellis.round_to('ci_high', 6) }} as ci_high,
        {{ trellis.round_to('p_value', 6) }} as p_value,
        coalesce(p_value < {{ var('variant_comparison_alpha') }}, false) as is_significant
    from tested
)

select * from final
