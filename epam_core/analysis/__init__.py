"""Pure analysis functions behind the dashboard and `epam export` (no Streamlit here)."""
