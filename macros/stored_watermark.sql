{#- The largest `column` this incremental model has stored: a run takes the
    rows newer than it (ingested_at for ingest batches, resolved_at for the
    rows parent resolution rewrote). -#}
{% macro stored_watermark(column) -%}
    (select max(this.{{ column }}) from {{ this }} as this)
{%- endmacro %}
