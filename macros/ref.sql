{#- Every ref renders through trellis.portable_relation, so DuckDB views keep
    working in a copied or renamed warehouse file. -#}
{% macro ref() -%}
    {{ return(trellis.portable_relation(builtins.ref(*varargs, **kwargs))) }}
{%- endmacro %}
