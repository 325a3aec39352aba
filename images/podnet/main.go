// Command podnet is the cluster's pod network agent on registry-less machines, doing the job
// kind's kindnetd does (kindnetd's source is not served by the Go module proxy): on each node it
// writes a CNI config (ptp + host-local over the node's spec.podCIDR, plus portmap), routes every
// other node's podCIDR via that node's InternalIP (all kind nodes share one Docker network), and
// masquerades pod traffic leaving the pod network. It runs as a hostNetwork DaemonSet.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const cniConfPath = "/etc/cni/net.d/10-podnet.conflist"

func main() {
	nodeName := os.Getenv("NODE_NAME")
	podSubnet := os.Getenv("POD_SUBNET")
	if nodeName == "" || podSubnet == "" {
		log.Fatal("NODE_NAME and POD_SUBNET must be set")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatalf("in-cluster config: %v", err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	masqueraded := false
	for {
		interval := 10 * time.Second
		if err := sync(client, nodeName, podSubnet, &masqueraded); err != nil {
			log.Printf("sync: %v", err)
			interval = 2 * time.Second
		}
		time.Sleep(interval)
	}
}

func sync(client kubernetes.Interface, self, podSubnet string, masqueraded *bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var own string
	for _, n := range nodes.Items {
		if n.Name == self {
			own = n.Spec.PodCIDR
			continue
		}
		ip := internalIP(&n)
		if n.Spec.PodCIDR == "" || ip == "" {
			continue
		}
		if out, err := exec.Command("ip", "route", "replace", n.Spec.PodCIDR, "via", ip).CombinedOutput(); err != nil {
			return fmt.Errorf("route %s via %s: %v: %s", n.Spec.PodCIDR, ip, err, out)
		}
	}
	if own == "" {
		return fmt.Errorf("node %s has no spec.podCIDR yet", self)
	}
	if err := writeCNIConfig(own); err != nil {
		return err
	}
	if !*masqueraded {
		if err := ensureMasquerade(podSubnet); err != nil {
			return err
		}
		*masqueraded = true
	}
	return nil
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// writeCNIConfig writes the same plugin chain kindnetd writes, atomically (kubelet reads the dir).
func writeCNIConfig(podCIDR string) error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "podnet",
		"plugins": []any{
			map[string]any{
				"type": "ptp", "ipMasq": false, "mtu": 1500,
				"ipam": map[string]any{
					"type": "host-local", "dataDir": "/run/cni-ipam-state",
					"routes": []any{map[string]string{"dst": "0.0.0.0/0"}},
					"ranges": []any{[]any{map[string]string{"subnet": podCIDR}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	data, _ := json.MarshalIndent(conf, "", "  ")
	if old, err := os.ReadFile(cniConfPath); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(cniConfPath), ".podnet.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	log.Printf("writing %s for podCIDR %s", cniConfPath, podCIDR)
	return os.Rename(tmp, cniConfPath)
}

// ensureMasquerade NATs pod traffic to anything outside the pod network (the Docker network,
// e.g. the PostgreSQL container): replies would otherwise be routed to a host that has no route
// back to the pod CIDR.
func ensureMasquerade(podSubnet string) error {
	spec := []string{"POSTROUTING", "-s", podSubnet, "!", "-d", podSubnet,
		"-m", "comment", "--comment", "podnet masquerade", "-j", "MASQUERADE"}
	if exec.Command("iptables", append([]string{"-t", "nat", "-C"}, spec...)...).Run() == nil {
		return nil
	}
	if out, err := exec.Command("iptables", append([]string{"-t", "nat", "-A"}, spec...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("iptables masquerade: %v: %s", err, out)
	}
	return nil
}
