"""Differential testing of the Portcullis Cedar engine against cedarpy (Rust cedar-policy 4.12).

Modules: `ast` (policy syntax tree and renderer), `gen` (seeded random worlds),
`engines` (cedarpy and the `portcullis policy authorize` CLI behind one interface),
`shrink` (minimal reproductions) and `cases` (the regression-case files).
"""
