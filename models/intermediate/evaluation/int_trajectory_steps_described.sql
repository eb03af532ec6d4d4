-- One row per trajectory and step (a node on its root-to-leaf path): the facts
-- of the node the rule labels read.
--   1. The user's ask of a node is its context's last message when that message
--      is a user turn; the ask is restated when it equals the user turn before
--      it (same canonical message key).
--   2. Tool names a node may call are the function names of its request's tools.

with

trajectories as (
    select * from {{ ref('trajectory_units') }}
),

nodes as (
    select * from {{ ref('conversation_branch_nodes') }}
),

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

user_turns as (
    select * from {{ ref('int_request_user_turns_keyed') }}
),

steps as (
    select
        trajectories.trajectory_id,
        path.node_id,
        trajectories.tenant_id,
        cast(path.step_index as bigint) - 1 as step_index,
        trajectories.step_count
    from trajectories,
        unnest(from_json(trajectories.node_ids, '["VARCHAR"]')) with ordinality as path (node_id, step_index)
),

described as (
    select
        steps.trajectory_id,
        steps.node_id,
        steps.tenant_id,
        nodes.agent_id,
        nodes.branch_kind,
        nodes.node_status,
        requests.reply_tool_calls_json,
        json_extract_string(requests.tools_json, '$[*].function.name') as declared_tool_names,
        steps.step_index,
        requests.completion_tokens,
        steps.step_index = steps.step_count - 1 as is_leaf_step,
        coalesce(
            user_turns.is_asking
            and len(user_turns.user_message_keys) >= 2
            and user_turns.user_message_keys[-1] = user_turns.user_message_keys[-2],
            false
        ) as is_restated_ask,
        nodes.created_at
    from steps
    inner join nodes
        on
            steps.node_id = nodes.node_id
            and steps.tenant_id = nodes.tenant_id
    inner join requests
        on
            steps.node_id = requests.request_id
            and steps.tenant_id = requests.tenant_id
    left join user_turns
        on
            steps.node_id = user_turns.request_id
            and steps.tenant_id = user_turns.tenant_id
)

select * from described
