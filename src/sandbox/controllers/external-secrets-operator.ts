import { AppsV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node'
import { startEso, type EsoInstall, type RunningEso } from '../components/external-secrets.js'
import { startInformer } from '../informer.js'

/** The chart's controller Deployment (its webhook and cert-controller carry other names). */
const SELECTOR = 'app.kubernetes.io/name=external-secrets'

/**
 * Runs the real External Secrets Operator while the Deployment that `helm.external-secrets`
 * installs (the upstream chart) is available, as its pod would run in EKS: the node simulator
 * makes the Deployment available, and this supervisor starts the operator process out of
 * cluster (there is no kubelet to run its image). Deleting the release stops it; a crashed
 * operator is started again, as a restarting container would be.
 */
export async function runEsoWithDeployment(
  kc: KubeConfig,
  opts: {
    kubeconfigPath: string
    awsEndpoint: string
    region: string
    logDir: string
    install: EsoInstall
    log(m: string): void
    /** Tests share one cluster: only Deployments with these labels too, and only stores of this controller class. */
    labelSelector?: string
    controllerClass?: string
  },
): Promise<{ stop(): Promise<void> }> {
  const apps = kc.makeApiClient(AppsV1Api)
  const selector = [SELECTOR, opts.labelSelector].filter(Boolean).join(',')
  let running: RunningEso | undefined
  let stopped = false
  // start and stop never overlap: each change waits for the previous one
  let queue: Promise<void> = Promise.resolve()
  const available = (): boolean => informer.cache.list().some((d) => (d.status?.availableReplicas ?? 0) > 0)

  const converge = (): void => {
    queue = queue.then(async () => {
      const want = !stopped && available()
      if (want && (!running || running.proc.exitInfo())) {
        try {
          running = await startEso(opts)
          opts.log(`external-secrets: operator ${running.proc.pid} running (started in ${running.startSeconds.toFixed(1)} s; log ${running.proc.logPath})`)
          const mine = running
          void mine.proc.exited.then((info) => {
            if (stopped || running !== mine) return
            opts.log(`external-secrets: operator exited (${info.code ?? info.signal}); starting it again`)
            setTimeout(converge, 1000).unref()
          })
        } catch (err) {
          opts.log(`external-secrets: operator failed to start: ${(err as Error).message}`)
          setTimeout(converge, 2000).unref()
        }
      } else if (!want && running) {
        const r = running
        running = undefined
        await r.stop()
        opts.log('external-secrets: operator stopped (its Deployment is gone or unavailable)')
      }
    })
  }

  const informer = await startInformer<V1Deployment>(
    kc,
    '/apis/apps/v1/deployments',
    () => apps.listDeploymentForAllNamespaces({ labelSelector: selector }),
    converge,
    opts.log,
    selector,
  )
  converge()
  return {
    async stop() {
      stopped = true
      await informer.stop()
      converge()
      await queue
    },
  }
}
