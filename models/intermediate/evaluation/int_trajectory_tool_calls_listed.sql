-- One row per tool call a node's reply made, on each trajectory through it.
--   1. A call is identified by its function name and arguments text, not its id
--      (ids differ on every call, a repeated call repeats name and arguments).
--   2. A call is declared when its name is one of the request's tools.
--   3. Arguments are valid when they parse as JSON.

with

steps as (
    select * from {{ ref('int_trajectory_steps_described') }}
),

calls as (
    select
        steps.trajectory_id,
        steps.node_id,
        steps.declared_tool_names,
        steps.step_index,
        unnest(from_json(steps.reply_tool_calls_json, '[{"function": {"name": "VARCHAR", "arguments": "VARCHAR"}}]'))
            as tool_call
    from steps
    where steps.reply_tool_calls_json is not null
),

listed as (
    select
        calls.trajectory_id,
        calls.node_id,
        tool_call.function.name as tool_name,
        tool_call.function.arguments as tool_arguments,
        calls.step_index,
        coalesce(list_contains(calls.declared_tool_names, tool_call.function.name), false) as is_declared,
        coalesce(json_valid(tool_call.function.arguments), false) as has_valid_arguments
    from calls
)

select * from listed
