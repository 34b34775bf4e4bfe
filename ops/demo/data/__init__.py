"""Sample files shipped with the wheel: `master_sample.csv` and `master_sample_udid.xml`,
eleven products of a demo manufacturer (company prefix 9506000) as product master data
(serialised implants, lot-tracked consumables with box and case levels), and the demo
seed's two other manufacturers' products (`chengrui_products.csv`,
`maikang_products.csv`), in the same CSV layout. Realistic, not real: the registration
numbers and GTINs are made up."""
