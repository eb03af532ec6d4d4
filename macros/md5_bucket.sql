{#- A deterministic pseudo-random integer in [0, buckets) from md5 of a text:
    the first 28 bits of the digest, modulo buckets. Equal on every target
    (md5 is), so seeded resampling gives the same draws on DuckDB and PostgreSQL. -#}
{% macro md5_bucket(text_expr, buckets) -%}
    {{ return(adapter.dispatch('md5_bucket', 'trellis')(text_expr, buckets)) }}
{%- endmacro %}

{% macro default__md5_bucket(text_expr, buckets) -%}
    {{ exceptions.raise_compiler_error('md5_bucket: no implementation for ' ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__md5_bucket(text_expr, buckets) -%}
    (cast(('0x' || substr(md5({{ text_expr }}), 1, 7)) as bigint) % ({{ buckets }}))
{%- endmacro %}

{% macro postgres__md5_bucket(text_expr, buckets) -%}
    (cast(cast(('x' || substr(md5({{ text_expr }}), 1, 7)) as bit(28)) as bigint) % ({{ buckets }}))
{%- endmacro %}
