-- One row per agent seen in traffic or listed in agent_policies: its own policy,
-- else the 'default' row's.
with

requests as (
    select agent_id from {{ ref('stg_gateway__requests') }}
),

policies as (
    select * from {{ ref('agent_policies') }}
),

agents as (
    select agent_id from requests
    union
    select agent_id from policies
    where agent_id != 'default'
),

resolved as (
    select
        agents.agent_id,
        coalesce(own.agent_description, fallback.agent_description) as agent_description,
        own.agent_id is null as uses_default_policy,
        coalesce(own.confidence_gate, fallback.confidence_gate) as confidence_gate,
        coalesce(own.latency_slo_percentile, fallback.latency_slo_percentile) as latency_slo_percentile,
        coalesce(own.latency_slo_ms, fallback.latency_slo_ms) as latency_slo_ms,
        case when own.agent_id is null then fallback.fallback_model_1 else own.fallback_model_1 end
            as fallback_model_1,
        case when own.agent_id is null then fallback.fallback_model_2 else own.fallback_model_2 end
            as fallback_model_2,
        case when own.agent_id is null then fallback.fallback_model_3 else own.fallback_model_3 end
            as fallback_model_3
    from agents
    left join policies as own
        on agents.agent_id = own.agent_id
    left join policies as fallback
        on fallback.agent_id = 'default'
)

select * from resolved
