{#- The text of a message content given as JSON text or JSON: the string itself,
    the `text` of its parts of type "text" joined in order (no separator), or ''
    for null. -#}
{% macro json_content_text(content) -%}
    {{ return(adapter.dispatch('json_content_text', 'trellis')(content)) }}
{%- endmacro %}

{% macro postgres__json_content_text(content) -%}
    (case jsonb_typeof(cast({{ content }} as jsonb))
        when 'array' then coalesce((
            select string_agg(parts.part ->> 'text', '' order by parts.ordinality)
            from jsonb_array_elements(cast({{ content }} as jsonb)) with ordinality as parts (part, ordinality)
            where parts.part ->> 'type' = 'text'
        ), '')
        when 'string' then cast({{ content }} as jsonb) #>> '{}'
        else ''
    end)
{%- endmacro %}

{% macro duckdb__json_content_text(content) -%}
    (case json_type(cast({{ content }} as json))
        when 'ARRAY' then coalesce(array_to_string(list_transform(
            list_filter(json_extract(cast({{ content }} as json), '$[*]'), lambda part: part ->> 'type' = 'text'),
            lambda part: part ->> 'text'
        ), ''), '')
        when 'VARCHAR' then cast({{ content }} as json) ->> '$'
        else ''
    end)
{%- endmacro %}

{% macro default__json_content_text(content) -%}
    {{ trellis.unsupported_adapter('json_content_text') }}
{%- endmacro %}
