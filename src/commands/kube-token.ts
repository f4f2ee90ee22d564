import { BaseCommand, describe, envFlag } from '../cli/base.js'
import { awsSettings, loadProject } from '../engine/context.js'

export default class KubeToken extends BaseCommand {
  static override hidden = true
  static override summary = "Print an EKS token as a kubectl ExecCredential (the kubeconfig's exec entry written by kube.config)."
  static override description = describe(
    [
      'What `aws eks get-token` prints, made without the aws CLI: an STS GetCallerIdentity URL presigned for the',
      "environment's cluster with the same AWS credentials autolytiq uses (profile, SSO, environment variables).",
      'kubectl and helm run it through the autolytiq-<env> context; autolytiq itself mints the token in-process.',
    ].join(' '),
  )

  static override examples = ['<%= config.bin %> kube-token --env prod']
  static override flags = { env: envFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(KubeToken)
    const { env } = loadProject(flags.env)
    const { AwsClients } = await import('../clients/aws.js')
    const { eksToken, execCredential } = await import('../clients/eks-token.js')
    const token = await eksToken(new AwsClients(awsSettings(env)), env.eksCluster)
    // Not this.out(): redaction would blank the token, which is this command's whole output
    // (read by kubectl/helm from a pipe, never shown).
    process.stdout.write(`${JSON.stringify(execCredential(token))}\n`)
  }
}
