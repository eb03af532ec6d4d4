{#- The text of a message's content: the string itself, the text parts of a list
    joined in order (no separator), or '' for null. -#}
{% macro message_content_text(message) -%}
    {{ return(adapter.dispatch('message_content_text', 'trellis')(message)) }}
{%- endmacro %}

{% macro default__message_content_text(message) -%}
    (case jsonb_typeof({{ message }} -> 'content')
        when 'array' then coalesce((
            select string_agg(parts.part ->> 'text', '' order by parts.ordinality)
            from jsonb_array_elements({{ message }} -> 'content') with ordinality as parts (part, ordinality)
            where parts.part ->> 'type' = 'text'
        ), '')
        else coalesce({{ message }} ->> 'content', '')
    end)
{%- endmacro %}

{% macro duckdb__message_content_text(message) -%}
    (case json_type({{ message }}, '$.content')
        when 'ARRAY' then coalesce(array_to_string(list_transform(
            list_filter(json_extract({{ message }}, '$.content[*]'), lambda part: part ->> 'type' = 'text'),
            lambda part: part ->> 'text'
        ), ''), '')
        else coalesce({{ message }} ->> 'content', '')
    end)
{%- endmacro %}
