with

nodes as (
    select * from {{ ref('conversation_branch_nodes') }}
),

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

node_facts as (
    select
        nodes.session_key,
        nodes.tenant_id,
        nodes.node_id,
        nodes.root_node_id,
        nodes.agent_id,
        nodes.model,
        nodes.node_status,
        nodes.depth,
        nodes.child_count,
        nodes.is_leaf,
        requests.prompt_tokens,
        requests.completion_tokens,
        nodes.created_at
    from nodes
    inner join requests on nodes.node_id = requests.request_id
),

sessions as (
    select
        session_key,
        tenant_id,
        string_agg(distinct agent_id, ',' order by agent_id) as agent_ids,
        string_agg(distinct model, ',' order by model) as models,
        count(*) as node_count,
        count(distinct root_node_id) as root_count,
        cast(sum(case when child_count > 1 then 1 else 0 end) as bigint) as branch_point_count,
        cast(sum(case when is_leaf then 1 else 0 end) as bigint) as leaf_count,
        max(depth) as max_depth,
        cast(sum(prompt_tokens) as bigint) as prompt_tokens,
        cast(sum(completion_tokens) as bigint) as completion_tokens,
        cast(sum(case when node_status = 'success' then 1 else 0 end) as bigint) as success_count,
        cast(sum(case when node_status = 'error' then 1 else 0 end) as bigint) as error_count,
        cast(sum(case when node_status = 'timeout' then 1 else 0 end) as bigint) as timeout_count,
        cast(sum(case when node_status = 'fallback' then 1 else 0 end) as bigint) as fallback_count,
        cast(sum(case when node_status = 'cancelled' then 1 else 0 end) as bigint) as cancelled_count,
        min(created_at) as first_created_at,
        max(created_at) as last_created_at
    from node_facts
    group by session_key, tenant_id
)

select * from sessions
