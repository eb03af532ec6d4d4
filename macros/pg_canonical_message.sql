{#- Canonical text of one jsonb message (see request_context_message_keys).
    Fields are separated by control characters that cannot occur unescaped in
    JSON text; a null content is the empty text. -#}
{% macro pg_canonical_message(message) -%}
    concat_ws(
        chr(31),
        coalesce({{ message }} ->> 'role', ''),
        {{ trellis.json_content_text(message ~ " -> 'content'") }},
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
