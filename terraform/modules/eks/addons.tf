# Issue #16 items 3 and 12: EKS add-ons the runbook's workloads depend on.
#
# - vpc-cni with network policy enforcement on: EKS applies NetworkPolicies only when the VPC
#   CNI's network policy agent is enabled; without it k8s/base's policies are accepted by the API
#   server and enforced by nothing.
# - aws-ebs-csi-driver with its own IRSA role: EKS 1.30+ ships no default StorageClass and no EBS
#   provisioner, so Prometheus's 50Gi claim never binds. The gp3 StorageClass itself is a
#   Kubernetes object the runbook applies (k8s side).
resource "aws_eks_addon" "vpc_cni" {
  count                       = var.addons_enabled ? 1 : 0
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "vpc-cni"
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"
  configuration_values        = jsonencode({ enableNetworkPolicy = "true" })
}

data "aws_iam_policy_document" "ebs_csi_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")}:sub"
      values   = ["system:serviceaccount:kube-system:ebs-csi-controller-sa"]
    }
    condition {
      test     = "StringEquals"
      variable = "${replace(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ebs_csi" {
  name               = "${var.cluster_name}-ebs-csi"
  assume_role_policy = data.aws_iam_policy_document.ebs_csi_assume.json
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.ebs_csi.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}

resource "aws_eks_addon" "ebs_csi" {
  count                       = var.addons_enabled ? 1 : 0
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "aws-ebs-csi-driver"
  service_account_role_arn    = aws_iam_role.ebs_csi.arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"

  # the controller's pods need nodes to become ACTIVE
  depends_on = [aws_eks_node_group.general, aws_iam_role_policy_attachment.ebs_csi]
}

output "ebs_csi_role_arn" {
  value = aws_iam_role.ebs_csi.arn
}

moved {
  from = aws_eks_addon.vpc_cni
  to   = aws_eks_addon.vpc_cni[0]
}

moved {
  from = aws_eks_addon.ebs_csi
  to   = aws_eks_addon.ebs_csi[0]
}
