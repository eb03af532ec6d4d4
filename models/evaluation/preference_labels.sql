-- One row per confirmed preference pair: a human chose one sibling answer over
-- another, explicitly (a pairwise choice) or by scoring it higher
-- (candidate_preference_pairs with preference_source human).
--   1. An explicit choice counts only between members of one response group.
--   2. feedback_ids lists every human review the pair rests on; a pair chosen
--      both ways by different reviewers is kept both ways, is_contested.

with

reviews as (
    select * from {{ ref('int_human_reviews_parsed') }}
    where chosen_node_id is not null and rejected_node_id is not null
),

members as (
    select * from {{ ref('response_branch_records') }}
),

candidates as (
    select * from {{ ref('candidate_preference_pairs') }}
    where preference_source = 'human'
),

-- the reviews behind a human score: each reviewer's latest score of the node
human_scores as (
    select *
    from (
        select
            scored.*,
            row_number() over (
                partition by scored.node_id, scored.tenant_id, scored.reviewer_id
                order by scored.created_at desc, scored.feedback_id desc
            ) as recency
        from {{ ref('int_human_reviews_parsed') }} as scored
        where scored.quality_score is not null
    ) as ranked
    where recency = 1
),

chosen_explicitly as (
    select
        reviews.chosen_node_id,
        reviews.rejected_node_id,
        chosen.tenant_id,
        chosen.response_group_id,
        chosen.context_anchor_node_id as parent_node_id,
        'pairwise_choice' as confirmation,
        reviews.feedback_id,
        reviews.created_at
    from reviews
    inner join members as chosen
        on
            reviews.chosen_node_id = chosen.node_id
            and reviews.tenant_id = chosen.tenant_id
    inner join members as rejected
        on
            reviews.rejected_node_id = rejected.node_id
            and chosen.tenant_id = rejected.tenant_id
            and chosen.response_group_id = rejected.response_group_id
),

implied_by_scores as (
    select
        candidates.chosen_node_id,
        candidates.rejected_node_id,
        candidates.tenant_id,
        candidates.response_group_id,
        candidates.parent_node_id,
        'human_scores' as confirmation,
        human_scores.feedback_id,
        human_scores.created_at
    from candidates
    inner join human_scores
        on
            human_scores.node_id in (candidates.chosen_node_id, candidates.rejected_node_id)
            and candidates.tenant_id = human_scores.tenant_id
),

confirmations as (
    select * from chosen_explicitly
    union all
    select * from implied_by_scores
),

confirmed as (
    select
        -- node ids are unique per tenant: the pair id holds the tenant
        md5(concat_ws('|', 'pair', tenant_id, chosen_node_id, rejected_node_id)) as pair_id,
        tenant_id,
        response_group_id,
        parent_node_id,
        chosen_node_id,
        rejected_node_id,
        string_agg(distinct confirmation, '+' order by confirmation) as confirmed_by,
        cast(to_json(list(distinct feedback_id order by feedback_id)) as varchar) as feedback_ids,
        max(created_at) as confirmed_at
    from confirmations
    group by tenant_id, response_group_id, parent_node_id, chosen_node_id, rejected_node_id
),

final as (
    select
        confirmed.*,
        exists(
            select 1 from confirmed as reverse
            where
                reverse.chosen_node_id = confirmed.rejected_node_id
                and reverse.rejected_node_id = confirmed.chosen_node_id
                and reverse.tenant_id = confirmed.tenant_id
        ) as is_contested
    from confirmed
)

select
    pair_id,
    tenant_id,
    response_group_id,
    parent_node_id,
    chosen_node_id,
    rejected_node_id,
    confirmed_by,
    feedback_ids,
    is_contested,
    confirmed_at
from final
