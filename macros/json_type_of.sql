{#- Lower-case JSON type name at a path: object, array, string, number, boolean, null. -#}
{% macro json_type_of(json_expr, path) -%}
    {{ return(adapter.dispatch('json_type_of', 'trellis')(json_expr, path)) }}
{%- endmacro %}

{% macro default__json_type_of(json_expr, path) -%}
    jsonb_typeof({{ json_expr }} #> '{{ trellis.pg_json_path(path) }}')
{%- endmacro %}

{% macro duckdb__json_type_of(json_expr, path) -%}
    (case lower(json_type({{ json_expr }}, '{{ trellis.duckdb_json_path(path) }}'))
        when 'varchar' then 'string'
        when 'bigint' then 'number'
        when 'ubigint' then 'number'
        when 'double' then 'number'
        else lower(json_type({{ json_expr }}, '{{ trellis.duckdb_json_path(path) }}'))
    end)
{%- endmacro %}
