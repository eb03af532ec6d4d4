{#- Parse a JSON column once for json_fields_select. DuckDB turns it into a
    typed struct (json_transform parses each document once, instead of once
    per extracted field); PostgreSQL's jsonb is already parsed.
    fields: list of {name, path, type} with type in text, double, bigint,
    integer, boolean, json. -#}
{% macro json_fields_parse(json_column, fields, alias='_doc') -%}
    {{ return(adapter.dispatch('json_fields_parse', 'trellis')(json_column, fields, alias)) }}
{%- endmacro %}

{% macro postgres__json_fields_parse(json_column, fields, alias='_doc') -%}
    {{ json_column }} as {{ alias }}
{%- endmacro %}

{% macro duckdb__json_fields_parse(json_column, fields, alias='_doc') -%}
    {%- set duck_types = {'text': 'VARCHAR', 'double': 'DOUBLE', 'bigint': 'BIGINT', 'integer': 'INTEGER', 'boolean': 'BOOLEAN', 'json': 'JSON'} -%}
    {%- set ns = namespace(tree={}, node=none) -%}
    {%- for field in fields -%}
        {%- set ns.node = ns.tree -%}
        {%- for key in field.path -%}
            {%- set key_name = ('[]' ~ key) if key is number else key -%}
            {%- if loop.last -%}
                {%- do ns.node.update({key_name: duck_types[field.type]}) -%}
            {%- else -%}
                {%- if key_name not in ns.node -%}{%- do ns.node.update({key_name: {}}) -%}{%- endif -%}
                {%- set ns.node = ns.node[key_name] -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    json_transform({{ json_column }}, '{{ trellis.duckdb_struct_spec(ns.tree) }}') as {{ alias }}
{%- endmacro %}

{#- Render a nested dict as a json_transform structure; keys '[]N' become lists. -#}
{% macro duckdb_struct_spec(tree) -%}
    {%- set parts = [] -%}
    {%- set list_keys = [] -%}
    {%- for key, value in tree.items() -%}
        {%- if key.startswith('[]') -%}
            {%- do list_keys.append(key) -%}
        {%- else -%}
            {%- set rendered = ('"' ~ value ~ '"') if value is string else trellis.duckdb_struct_spec(value) -%}
            {%- do parts.append('"' ~ key ~ '":' ~ rendered) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if list_keys -%}
        {%- set element = tree[list_keys[0]] -%}
        [{{ ('"' ~ element ~ '"') if element is string else trellis.duckdb_struct_spec(element) }}]
    {%- else -%}
        {{ '{' ~ (parts | join(',')) ~ '}' }}
    {%- endif -%}
{%- endmacro %}

{% macro default__json_fields_parse(json_column, fields, alias='_doc') -%}
    {{ trellis.unsupported_adapter('json_fields_parse') }}
{%- endmacro %}
