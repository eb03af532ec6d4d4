{#- Canonical text of one message struct parsed by request_context_parse; the
    DuckDB twin of pg_canonical_message, byte for byte. -#}
{% macro duckdb_canonical_message(message) -%}
    concat_ws(
        chr(31),
        coalesce({{ message }}.role, ''),
        {{ trellis.json_content_text(message ~ '.content') }},
        coalesce({{ message }}.name, ''),
        coalesce(array_to_string(list_transform(
            {{ message }}.tool_calls,
            lambda call: concat_ws(chr(30), call.id, call.function.name, call.function.arguments ->> '$')
        ), chr(29)), ''),
        coalesce({{ message }}.tool_call_id, '')
    )
{%- endmacro %}
