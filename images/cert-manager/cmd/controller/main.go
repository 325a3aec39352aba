// Command controller is cert-manager's controller manager: issuers, Certificates,
// CertificateRequests, ACME orders and challenges, the ingress and Gateway shims.
//
// Every controller and issuer lives in the release module (pkg/controller/..., pkg/issuer/...)
// and registers itself from an init function; upstream's cmd/controller module (not served by
// the Go module proxy) only parses the configuration, builds the shared controller context and
// starts the registered controllers once this replica leads. This file does that wiring.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	configscheme "github.com/cert-manager/cert-manager/internal/apis/config/controller/scheme"
	defaults "github.com/cert-manager/cert-manager/internal/apis/config/controller/v1alpha1"
	"github.com/cert-manager/cert-manager/internal/apis/config/controller/validation"
	"github.com/cert-manager/cert-manager/internal/controller/feature"
	"github.com/cert-manager/cert-manager/internal/pem"
	configv1alpha1 "github.com/cert-manager/cert-manager/pkg/apis/config/controller/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/controller"
	shimgateways "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/gateways"
	shimlistenersets "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/listenerset"
	controllerconfigfile "github.com/cert-manager/cert-manager/pkg/controller/configfile"
	"github.com/cert-manager/cert-manager/pkg/healthz"
	dnsutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/server"
	"github.com/cert-manager/cert-manager/pkg/util"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	cliflag "k8s.io/component-base/cli/flag"
	logsapi "k8s.io/component-base/logs/api/v1"

	"github.com/cert-manager/cert-manager/harness-entrypoints/internal/cli"

	// Issuer implementations register with the issuer factory from init. (The controllers
	// register with controller.Known() from init too; the defaults package above imports them
	// all for their names.)
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/venafi"
)

func main() {
	cfg, err := newDefaults()
	if err != nil {
		logf.Log.Error(err, "building the default controller configuration")
		os.Exit(1)
	}
	cli.Main(cli.Component{
		Name:     "controller",
		AddFlags: func(fs *pflag.FlagSet) { addFlags(fs, cfg) },
		LoadFile: func(path string) error {
			file := controllerconfigfile.New()
			if err := cli.LoadFile(path, file); err != nil {
				return err
			}
			file.Config.DeepCopyInto(cfg)
			return nil
		},
		Gates:    func() map[string]bool { return cfg.FeatureGates },
		Validate: func() error { return validation.ValidateControllerConfiguration(cfg, nil).ToAggregate() },
		Logging:  func() *logsapi.LoggingConfiguration { return &cfg.Logging },
		Run:      func(ctx context.Context) error { return run(ctx, cfg) },
	})
}

// newDefaults: the versioned (v1alpha1) defaults converted to the internal type, as the config
// file decoder also does, so flags and file start from the same values.
func newDefaults() (*config.ControllerConfiguration, error) {
	scheme, _, err := configscheme.NewSchemeAndCodecs()
	if err != nil {
		return nil, err
	}
	versioned := &configv1alpha1.ControllerConfiguration{}
	scheme.Default(versioned)
	cfg := &config.ControllerConfiguration{}
	return cfg, scheme.Convert(versioned, cfg, nil)
}

// addFlags: every flag the release's Helm chart renders (deploy/charts/cert-manager/templates/
// deployment.yaml) plus the common scoping ones, with upstream's names. Any other field of the
// ControllerConfiguration is set through the chart's `config` value (the --config file).
func addFlags(fs *pflag.FlagSet, c *config.ControllerConfiguration) {
	fs.StringVar(&c.KubeConfig, "kubeconfig", c.KubeConfig, "kubeconfig path (out of cluster only)")
	fs.StringVar(&c.APIServerHost, "master", c.APIServerHost, "API server address (out of cluster only)")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "watch only this namespace (disables ClusterIssuers)")
	fs.StringVar(&c.ClusterResourceNamespace, "cluster-resource-namespace", c.ClusterResourceNamespace, "namespace holding the Secrets of cluster-scoped issuers")
	fs.BoolVar(&c.LeaderElectionConfig.Enabled, "leader-elect", c.LeaderElectionConfig.Enabled, "elect one active replica")
	fs.StringVar(&c.LeaderElectionConfig.Namespace, "leader-election-namespace", c.LeaderElectionConfig.Namespace, "namespace of the leader election Lease")
	fs.DurationVar(&c.LeaderElectionConfig.LeaseDuration, "leader-election-lease-duration", c.LeaderElectionConfig.LeaseDuration, "leader election lease duration")
	fs.DurationVar(&c.LeaderElectionConfig.RenewDeadline, "leader-election-renew-deadline", c.LeaderElectionConfig.RenewDeadline, "leader election renew deadline")
	fs.DurationVar(&c.LeaderElectionConfig.RetryPeriod, "leader-election-retry-period", c.LeaderElectionConfig.RetryPeriod, "leader election retry period")
	fs.StringSliceVar(&c.Controllers, "controllers", c.Controllers, "controllers to run: * (the defaults), name, -name; all: "+strings.Join(defaults.AllControllers, ", "))
	fs.StringVar(&c.ACMEHTTP01Config.SolverImage, "acme-http01-solver-image", c.ACMEHTTP01Config.SolverImage, "image of the ACME HTTP-01 solver pods")
	fs.StringVar(&c.IngressShimConfig.DefaultIssuerName, "default-issuer-name", c.IngressShimConfig.DefaultIssuerName, "ingress-shim: issuer when an Ingress names none")
	fs.StringVar(&c.IngressShimConfig.DefaultIssuerKind, "default-issuer-kind", c.IngressShimConfig.DefaultIssuerKind, "ingress-shim: that issuer's kind")
	fs.StringVar(&c.IngressShimConfig.DefaultIssuerGroup, "default-issuer-group", c.IngressShimConfig.DefaultIssuerGroup, "ingress-shim: that issuer's group")
	fs.Var(cliflag.NewMapStringBool(&c.FeatureGates), "feature-gates", "feature gates, key=value pairs: "+strings.Join(utilfeature.DefaultFeatureGate.KnownFeatures(), "; "))
	fs.IntVar(&c.MaxConcurrentChallenges, "max-concurrent-challenges", c.MaxConcurrentChallenges, "ACME challenges processed at once")
	fs.BoolVar(&c.EnableCertificateOwnerRef, "enable-certificate-owner-ref", c.EnableCertificateOwnerRef, "make Certificates own their Secrets")
	fs.BoolVar(&c.ACMEDNS01Config.RecursiveNameserversOnly, "dns01-recursive-nameservers-only", c.ACMEDNS01Config.RecursiveNameserversOnly, "DNS-01 self check through the recursive nameservers only")
	fs.StringSliceVar(&c.ACMEDNS01Config.RecursiveNameservers, "dns01-recursive-nameservers", c.ACMEDNS01Config.RecursiveNameservers, "DNS-01 recursive nameservers, host:port or DoH URLs")
	fs.BoolVar(&c.EnableGatewayAPI, "enable-gateway-api", c.EnableGatewayAPI, "run the Gateway API certificate shim")
	fs.IntVar(&c.NumberOfConcurrentWorkers, "concurrent-workers", c.NumberOfConcurrentWorkers, "workers per controller")
	fs.StringVar(&c.MetricsListenAddress, "metrics-listen-address", c.MetricsListenAddress, "metrics address; 0 disables the metrics server")
	logf.AddFlags(&c.Logging, fs)
}

// enabledControllers resolves --controllers as upstream documents it ("*" = the default set,
// "-name" removes one), adds the controllers feature gates switch on, and drops cluster-scoped
// ones when running namespaced.
func enabledControllers(o *config.ControllerConfiguration) sets.Set[string] {
	enabled, disabled := sets.New[string](), sets.New[string]()
	for _, name := range o.Controllers {
		switch {
		case name == "*":
			enabled.Insert(defaults.DefaultEnabledControllers...)
		case strings.HasPrefix(name, "-"):
			disabled.Insert(strings.TrimPrefix(name, "-"))
		default:
			enabled.Insert(name)
		}
	}
	if disabled.Len() > 0 && enabled.Len() == 0 { // only removals given: from the defaults
		enabled.Insert(defaults.DefaultEnabledControllers...)
	}
	gate := utilfeature.DefaultFeatureGate.Enabled
	if gate(feature.ExperimentalCertificateSigningRequestControllers) {
		enabled.Insert(defaults.ExperimentalCertificateSigningRequestControllers...)
	}
	if gate(feature.ExperimentalGatewayAPISupport) && o.EnableGatewayAPI {
		enabled.Insert(shimgateways.ControllerName)
		if gate(feature.ListenerSets) && o.EnableGatewayAPIListenerSet {
			enabled.Insert(shimlistenersets.ControllerName)
		}
	}
	if o.Namespace != "" {
		enabled.Delete(defaults.ClusterScopedControllers...)
	}
	return enabled.Delete(disabled.UnsortedList()...)
}

func run(rootCtx context.Context, opts *config.ControllerConfiguration) error {
	rootCtx, cancel := context.WithCancel(rootCtx)
	defer cancel()
	log := logf.FromContext(rootCtx)
	v := util.VersionInfo()
	log.Info("starting cert-manager controller", "version", v.GitVersion, "go_version", v.GoVersion, "platform", v.Platform)
	// Not wired here (upstream serves them): refuse rather than silently ignore.
	if opts.EnablePprof || opts.MetricsTLSConfig.FilesystemConfigProvided() || opts.MetricsTLSConfig.DynamicConfigProvided() {
		return errors.New("this controller build serves neither profiling nor TLS metrics; unset enablePprof and metricsTLSConfig")
	}
	pl := opts.PEMSizeLimitsConfig // validated by ValidateControllerConfiguration
	pem.SetGlobalSizeLimits(pem.NewSizeLimitsFromConfig(pl.MaxCertificateSize, pl.MaxPrivateKeySize, pl.MaxChainLength, pl.MaxBundleSize))

	factory, err := contextFactory(rootCtx, opts)
	if err != nil {
		return err
	}
	cmctx, err := factory.Build()
	if err != nil {
		return err
	}
	enabled := enabledControllers(opts)
	log.Info("enabled controllers", "controllers", sets.List(enabled))

	g, rootCtx := errgroup.WithContext(rootCtx)
	serve := func(name string, srv *http.Server, ln net.Listener) {
		g.Go(func() error {
			<-rootCtx.Done()
			shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			return srv.Shutdown(shutdown) //nolint:contextcheck // rootCtx is already done here
		})
		g.Go(func() error {
			log.Info("serving "+name, "address", ln.Addr().String())
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	if addr := opts.MetricsListenAddress; addr != "" && addr != "0" {
		ln, err := server.Listen(rootCtx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("metrics address %s: %w", addr, err)
		}
		informers := cmctx.SharedInformerFactory
		cmctx.Metrics.SetupACMECollector(informers.Acme().V1().Challenges().Lister())
		cmctx.Metrics.SetupCertificateCollector(informers.Certmanager().V1().Certificates().Lister())
		cmctx.Metrics.SetupIssuerCollector(informers.Certmanager().V1().Issuers().Lister())
		cmctx.Metrics.SetupClusterIssuerCollector(informers.Certmanager().V1().ClusterIssuers().Lister())
		serve("metrics", cmctx.Metrics.NewServer(ln), ln)
	}

	// /livez for the chart's liveness probe; it also fails once leader election stalls.
	var lc net.ListenConfig
	healthLn, err := lc.Listen(rootCtx, "tcp", opts.HealthzListenAddress)
	if err != nil {
		return fmt.Errorf("healthz address %s: %w", opts.HealthzListenAddress, err)
	}
	health := healthz.NewServer(opts.LeaderElectionConfig.HealthzTimeout)
	g.Go(func() error { return health.Start(rootCtx, healthLn) })

	elected := make(chan struct{})
	if opts.LeaderElectionConfig.Enabled {
		g.Go(func() error { return leaderElection(rootCtx, opts, factory, health, elected) })
	} else {
		close(elected)
	}
	select {
	case <-rootCtx.Done(): // shutting down, or a server above failed
		return g.Wait()
	case <-elected:
	}

	for name, build := range controller.Known() {
		if !enabled.Has(name) {
			continue
		}
		c, err := build(factory)
		if err != nil {
			cancel()
			return errors.Join(fmt.Errorf("controller %s: %w", name, err), g.Wait())
		}
		g.Go(func() error { return c.Run(opts.NumberOfConcurrentWorkers, rootCtx) })
	}
	// The controllers registered their informers above: start the shared factories now.
	cmctx.SharedInformerFactory.Start(rootCtx.Done())
	cmctx.KubeSharedInformerFactory.Start(rootCtx.Done())
	cmctx.HTTP01ResourceMetadataInformersFactory.Start(rootCtx.Done())
	gateway := utilfeature.DefaultFeatureGate.Enabled(feature.ExperimentalGatewayAPISupport) && opts.EnableGatewayAPI
	if gateway {
		cmctx.GWShared.Start(rootCtx.Done())
	}
	err = g.Wait()
	if gateway {
		cmctx.GWShared.Shutdown()
	}
	cmctx.HTTP01ResourceMetadataInformersFactory.Shutdown()
	cmctx.KubeSharedInformerFactory.Shutdown()
	cmctx.SharedInformerFactory.Shutdown()
	return err
}

// leaderElection holds the "cert-manager-controller" Lease (upstream's name, labels and identity
// suffix, so this build and an upstream one never lead at once) and closes elected when it leads.
// Losing the lease is an error: the process exits and the kubelet restarts it as a follower.
func leaderElection(ctx context.Context, opts *config.ControllerConfiguration, factory *controller.ContextFactory,
	health *healthz.Server, elected chan struct{}) error {
	lectx, err := factory.Build("leader-election")
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	lock, err := resourcelock.NewWithLabels(resourcelock.LeasesResourceLock, opts.LeaderElectionConfig.Namespace,
		"cert-manager-controller", lectx.Client.CoreV1(), lectx.Client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: host + "-external-cert-manager-controller", EventRecorder: lectx.Recorder},
		map[string]string{"app.kubernetes.io/managed-by": "cert-manager"})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	lost := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   opts.LeaderElectionConfig.LeaseDuration,
		RenewDeadline:   opts.LeaderElectionConfig.RenewDeadline,
		RetryPeriod:     opts.LeaderElectionConfig.RetryPeriod,
		ReleaseOnCancel: true,
		WatchDog:        health.LeaderHealthzAdaptor,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(elected) },
			OnStoppedLeading: func() { close(lost) },
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx) // returns when ctx ends or the lease is lost
	select {
	case <-ctx.Done():
		return nil
	case <-lost:
		return errors.New("leader election lost")
	}
}

// contextFactory builds the shared controller context factory from the configuration (the
// mapping of ControllerConfiguration onto controller.ContextOptions, field by field).
func contextFactory(ctx context.Context, opts *config.ControllerConfiguration) (*controller.ContextFactory, error) {
	quantity := func(name, s string) (resource.Quantity, error) {
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return q, fmt.Errorf("%s %q: %w", name, s, err)
		}
		return q, nil
	}
	h := opts.ACMEHTTP01Config
	var qs [4]resource.Quantity
	for i, s := range []struct{ name, value string }{
		{"acmeHTTP01Config.solverResourceRequestCPU", h.SolverResourceRequestCPU},
		{"acmeHTTP01Config.solverResourceRequestMemory", h.SolverResourceRequestMemory},
		{"acmeHTTP01Config.solverResourceLimitsCPU", h.SolverResourceLimitsCPU},
		{"acmeHTTP01Config.solverResourceLimitsMemory", h.SolverResourceLimitsMemory},
	} {
		q, err := quantity(s.name, s.value)
		if err != nil {
			return nil, err
		}
		qs[i] = q
	}
	nameservers := opts.ACMEDNS01Config.RecursiveNameservers
	if len(nameservers) == 0 {
		nameservers = dnsutil.RecursiveNameservers // the pod's resolv.conf
	}
	return controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         opts.KubeConfig,
		KubernetesAPIQPS:   opts.KubernetesAPIQPS,
		KubernetesAPIBurst: opts.KubernetesAPIBurst,
		APIServerHost:      opts.APIServerHost,
		Namespace:          opts.Namespace,
		ACMEOptions: controller.ACMEOptions{
			HTTP01SolverResourceRequestCPU:    qs[0],
			HTTP01SolverResourceRequestMemory: qs[1],
			HTTP01SolverResourceLimitsCPU:     qs[2],
			HTTP01SolverResourceLimitsMemory:  qs[3],
			ACMEHTTP01SolverRunAsNonRoot:      h.SolverRunAsNonRoot,
			HTTP01SolverImage:                 h.SolverImage,
			HTTP01SolverNameservers:           h.SolverNameservers,
			DNS01Nameservers:                  nameservers,
			DNS01CheckRetryPeriod:             opts.ACMEDNS01Config.CheckRetryPeriod,
			DNS01CheckAuthoritative:           !opts.ACMEDNS01Config.RecursiveNameserversOnly,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: opts.MaxConcurrentChallenges},
		IssuerOptions: controller.IssuerOptions{
			ClusterIssuerAmbientCredentials: opts.ClusterIssuerAmbientCredentials,
			IssuerAmbientCredentials:        opts.IssuerAmbientCredentials,
			ClusterResourceNamespace:        opts.ClusterResourceNamespace,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerName:                 opts.IngressShimConfig.DefaultIssuerName,
			DefaultIssuerKind:                 opts.IngressShimConfig.DefaultIssuerKind,
			DefaultIssuerGroup:                opts.IngressShimConfig.DefaultIssuerGroup,
			DefaultAutoCertificateAnnotations: opts.IngressShimConfig.DefaultAutoCertificateAnnotations,
			ExtraCertificateAnnotations:       opts.IngressShimConfig.ExtraCertificateAnnotations,
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           opts.EnableCertificateOwnerRef,
			CopiedAnnotationPrefixes:                 opts.CopiedAnnotationPrefixes,
			CertificateRequestMinimumBackoffDuration: opts.CertificateRequestMinimumBackoffDuration,
		},
		ConfigOptions: controller.ConfigOptions{
			EnableGatewayAPI:            opts.EnableGatewayAPI,
			EnableGatewayAPIListenerSet: opts.EnableGatewayAPIListenerSet,
		},
	})
}
