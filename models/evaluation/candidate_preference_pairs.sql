-- One row per ordered pair of sibling answers (members of one response group)
-- whose scores differ by at least preference_min_margin:
--   1. Both answers are scored by the highest-ranked source that scores both
--      (human > judge > auto; int_response_nodes_scored says how); a human
--      score is never compared with a judge or automatic one.
--   2. The higher score is chosen; equal or closer scores make no pair.

with

scores as (
    select * from {{ ref('int_response_nodes_scored') }}
),

compared as (
    select
        chosen.tenant_id,
        chosen.response_group_id,
        chosen.parent_node_id,
        chosen.node_id as chosen_node_id,
        rejected.node_id as rejected_node_id,
        chosen.score_source as preference_source,
        chosen.score as chosen_score,
        rejected.score as rejected_score,
        greatest(chosen.scored_at, rejected.scored_at) as created_at,
        row_number() over (
            partition by chosen.tenant_id, chosen.node_id, rejected.node_id
            order by chosen.source_rank desc
        ) as source_choice
    from scores as chosen
    inner join scores as rejected
        on
            chosen.response_group_id = rejected.response_group_id
            and chosen.score_source = rejected.score_source
            and chosen.node_id != rejected.node_id
),

-- the best source is chosen before the margin is applied: a near tie of
-- humans is not overruled by a wider gap of judges
paired as (
    select
        -- node ids are unique per tenant: the pair id holds the tenant
        md5(concat_ws('|', 'pair', tenant_id, chosen_node_id, rejected_node_id)) as pair_id,
        tenant_id,
        response_group_id,
        parent_node_id,
        chosen_node_id,
        rejected_node_id,
        chosen_score,
        rejected_score,
        chosen_score - rejected_score as score_margin,
        preference_source,
        created_at
    from compared
    where
        source_choice = 1
        and chosen_score - rejected_score >= {{ var('preference_min_margin') }}
)

select * from paired
