-- One row per preference pair and training scope: the shared prompt, the
-- chosen and the rejected answer as OpenAI chat messages, de-identified.
-- Pairs come human first (int_preference_pairs_unioned: preference_labels,
-- then candidate_preference_pairs per var dataset_dpo_sources); a pair
-- enters the scopes its tenant consents to (tenant_data_policies). A pair
-- whose answer has no message (a failed call: no reply was logged) has
-- nothing to prefer and is left out.
with

pairs as (
    select * from {{ ref('int_preference_pairs_unioned') }}
),

examples as (
    select * from {{ ref('int_preference_examples_built') }}
),

policies as (
    select * from {{ ref('tenant_data_policies') }}
),

scopes as (
    select
        tenant_id,
        'global' as tenant_scope,
        policy_version
    from policies
    where allow_global_training
    union all
    select
        tenant_id,
        tenant_id as tenant_scope,
        policy_version
    from policies
    where allow_tenant_training
),

final as (
    select
        md5('dpo|' || scopes.tenant_scope || '|' || pairs.pair_id) as example_id,
        scopes.tenant_scope,
        examples.prompt_json as prompt,
        examples.chosen_json as chosen,
        examples.rejected_json as rejected,
        pairs.chosen_node_id,
        pairs.rejected_node_id,
        pairs.preference_source,
        {{ trellis.dataset_provenance(
            "to_json([pairs.chosen_node_id, pairs.rejected_node_id])::varchar",
            'null',
            'pairs.feedback_ids',
            'pairs.tenant_id',
            'scopes.policy_version',
            "'pair_id': pairs.pair_id, 'preference_source': pairs.preference_source"
        ) }} as provenance,
        pairs.score_margin,
        pairs.source_rank
    from pairs
    inner join examples on pairs.pair_id = examples.pair_id
    inner join scopes on pairs.tenant_id = scopes.tenant_id
    where examples.chosen_json != '[]' and examples.rejected_json != '[]'
)

select * from final
