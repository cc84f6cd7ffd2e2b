"""Every ``st.session_state`` key that more than one page or module reads or writes, defined once.

The entrypoint's sidebar writes the selected runs on every rerun; the pages read them through
``dashboard.selection``. Widget keys that one page alone uses stay on that page.
"""

RUN_PATH = "run_path"  # str | None: directory of the selected run (the sidebar sets it on every rerun)
COMPARE_PATH = "compare_path"  # str | None: directory of the run chosen under "Compare with"
RUN_NAME = "_run_name"  # the sidebar's "Run" choice (a name under the runs directory)
COMPARE_NAME = "_compare_name"  # the sidebar's "Compare with" choice
CUSTOM_RUN = "custom_run"  # the sidebar's "Run directory (optional)" text input
PENDING_CUSTOM_RUN = "_pending_custom_run"  # a run directory chosen by a page, applied before the sidebar
SAMPLE_ID = "sample_id"  # the selected sample, kept across the Sample, Robustness and Attention pages
SAMPLE_CLASS = "sample_class"  # the sample picker's "True class" box
SAMPLE_TYPED = "sample_typed"  # the sample picker's "…or type a sample id" box
PICKER_FOLLOWED = "_picker_followed"  # the sample the picker's class box last followed
SLICE_METADATA = "slice_metadata"  # {"name", "key", "table"}: a metadata table uploaded on the Slices page
