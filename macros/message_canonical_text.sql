{#- The canonical form of a chat message used to match contexts (contract section 3):
    role, the text of its content (text parts joined in order), name, each tool
    call's id, function name and arguments string, and tool_call_id. Nothing else.
    Fields are separated by control characters that cannot occur unescaped in JSON. -#}
{% macro message_canonical_text(message) -%}
    {{ return(adapter.dispatch('message_canonical_text', 'trellis')(message)) }}
{%- endmacro %}

{% macro default__message_canonical_text(message) -%}
    concat_ws(
        chr(31),
        coalesce({{ message }} ->> 'role', ''),
        {{ trellis.message_content_text(message) }},
        coalesce({{ message }} ->> 'name', ''),
        coalesce((
            select string_agg(
                concat_ws(chr(30), calls.call ->> 'id', calls.call #>> '{function,name}', calls.call #>> '{function,arguments}'),
                chr(29) order by calls.ordinality
            )
            from jsonb_array_elements(
                case when jsonb_typeof({{ message }} -> 'tool_calls') = 'array' then {{ message }} -> 'tool_calls' else '[]'::jsonb end
            ) with ordinality as calls (call, ordinality)
        ), ''),
        coalesce({{ message }} ->> 'tool_call_id', '')
    )
{%- endmacro %}

{% macro duckdb__message_canonical_text(message) -%}
    concat_ws(
        chr(31),
        coalesce({{ message }} ->> 'role', ''),
        {{ trellis.message_content_text(message) }},
        coalesce({{ message }} ->> 'name', ''),
        coalesce(array_to_string(list_transform(
            json_extract({{ message }}, '$.tool_calls[*]'),
            lambda call: concat_ws(chr(30), call ->> 'id', call ->> '$.function.name', call ->> '$.function.arguments')
        ), chr(29)), ''),
        coalesce({{ message }} ->> 'tool_call_id', '')
    )
{%- endmacro %}
