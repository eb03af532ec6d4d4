{#- A relation as models should name it in SQL. DuckDB: without the database,
    because dbt-duckdb's database is the file's name (its catalog) and a view
    stores the names it was written with: a copied or renamed warehouse file
    would hold views over a catalog that no longer exists. Without it, a name
    resolves in whatever file is open. PostgreSQL: unchanged (a database is
    not renamed by copying a file, and cross-database names are errors). -#}
{% macro portable_relation(relation) -%}
    {{ return(adapter.dispatch('portable_relation', 'trellis')(relation)) }}
{%- endmacro %}

{% macro duckdb__portable_relation(relation) -%}
    {#- unit tests render refs as fixture CTE names (strings) -#}
    {%- if relation is string or relation.include is not defined -%}
        {{ return(relation) }}
    {%- endif -%}
    {#- another catalog (the workbench's attached `truth`) keeps its name -#}
    {%- if relation.database != target.database -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return(relation.include(database=false)) }}
{%- endmacro %}

{% macro postgres__portable_relation(relation) -%}
    {{ return(relation) }}
{%- endmacro %}

{% macro default__portable_relation(relation) -%}
    {{ trellis.unsupported_adapter('portable_relation') }}
{%- endmacro %}
