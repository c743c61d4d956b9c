"""The recipe generator: model specs -> rendered recipe directories, and the drift check.

spec / validate / schema / yamlload / hfconfig  load, override, validate and resolve a spec
render                                          Jinja environment (StrictUndefined, shquote, pyrepr)
generate                                        spec -> {file: text} incl. recipe.yaml (provenance)
write                                           refuse edits, no-op when unchanged, atomic write
check                                           re-render from recipe.yaml and diff
commands                                        `recipegen new / list / show / check`
"""
