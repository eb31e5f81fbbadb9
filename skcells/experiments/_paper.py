"""The paper's numbers: Tables 1 and 2, and the row labels of its networks."""

#: Row labels of the networks, as in the paper's tables.
_MODEL_LABELS = {
    "x3d_xs": "EffNet X3D",
    "cnn9": "9-layer CNN",
    "resnet18": "ResNet18",
    "vit_l16": "ViT-L/16",
}

#: Paper Table 1 (accuracy in %, mean and std over 5 seeds).  ``mv`` is the
#: multi-view column of the WBC rows, ``cl`` the curriculum column of the
#: RBC rows.
PAPER_TABLE1 = (
    dict(dataset="wbc", model="x3d_xs", label="EffNet pr.", params="3.8 M (all)",
         epochs=400, input_shape="[9,3,64,64]", baseline=(83.56, 3.05),
         mv=(90.26, 0.89), cl=None),
    dict(dataset="wbc", model="cnn9", label="9-layer CNN", params="4.4 M (all)",
         epochs=800, input_shape="[3,32,32]", baseline=(81.57, 3.32),
         mv=(89.39, 2.58), cl=None),
    dict(dataset="wbc", model="resnet18", label="ResNet18 pr.",
         params="11.2 M (all)", epochs=400, input_shape="[3,256,256]",
         baseline=(82.61, 2.53), mv=(87.83, 2.70), cl=None),
    dict(dataset="wbc", model="vit_l16", label="ViT pr.", params="303 M (2 K)",
         epochs=400, input_shape="[3,224,224]", baseline=(76.31, 2.76),
         mv=(85.00, 2.15), cl=None),
    dict(dataset="rbc", model="x3d_xs", input="frame", label="EffNet pr.",
         params="3.8 M (all)", epochs=400, input_shape="[3,64,64]",
         baseline=(62.6, 0.53), mv=None, cl=(62.0, 0.51)),
    dict(dataset="rbc", model="x3d_xs", input="clip", label="EffNet pr.",
         params="3.8 M (all)", epochs=200, input_shape="[9,3,64,64]",
         baseline=(64.6, 0.52), mv=None, cl=(65.6, 0.52)),
)  # fmt: skip

#: Paper Table 2 (CIFAR-10; accuracy in %, clean labels and 20 % asymmetric
#: noise).  Rows with ``variant`` are ours to reproduce; the others are the
#: literature numbers the paper compares with.
PAPER_TABLE2 = (
    dict(group="Proposed models", label="9-layer CNN", variant="baseline",
         ls="0 / 0.4", params="4.4 M (all)", epochs=200, clean=(87.19, 1.03),
         noisy=(80.67, 0.52)),
    dict(group="Proposed models", label="9-layer CNN + MVM", variant="MVM",
         ls="0 / 0.4", params="4.4 M (all)", epochs=200, clean=(92.28, 0.65),
         noisy=(87.55, 0.22)),
    dict(group="Proposed models", label="9-layer CNN + MVWCo-S",
         variant="MVWCo-S", ls="0 / 0.4", params="4.4 M (all)", epochs=200,
         clean=(92.34, 0.66), noisy=(87.60, 0.23)),
    dict(group="Xia et al. (2021)", label="9-layer CNN + Co-teach.",
         variant=None, ls="-", params="4.4 M (all)", epochs=200, clean=None,
         noisy=(83.87, 0.24)),
    dict(group="Xia et al. (2021)", label="9-layer CNN + JoCor", variant=None,
         ls="-", params="4.4 M (all)", epochs=200, clean=None,
         noisy=(80.96, 0.25)),
    dict(group="Xia et al. (2021)", label="9-layer CNN + CNLCU-S",
         variant=None, ls="-", params="4.4 M (all)", epochs=200, clean=None,
         noisy=(85.06, 0.17)),
    dict(group="Wei et al. (2021)", label="ResNet34 + LS", variant=None,
         ls="0 / 0.4", params="-", epochs=200, clean=(91.44, 0.16),
         noisy=(90.49, 0.1)),
)  # fmt: skip


#: Multi-view gains of the paper's Table 1 (MV minus baseline, points).
_PAPER_WBC_GAIN = {
    p["model"]: round(p["mv"][0] - p["baseline"][0], 2)
    for p in PAPER_TABLE1
    if p["dataset"] == "wbc"
}
