/* A shared library that is not a plugin: it exports no strata_plugin_entry. */
int strata_not_a_plugin(void) { return 42; }
