#!/bin/sh
# /init of the crash lab's guest (busybox). Two roles:
#  - crashing kernel: arm kdump (kexec -p), start throwaway processes, set the kind's sysctls, crash;
#  - capture kernel (/proc/vmcore exists): save the dump the ways RHEL kdump-utils and Debian
#    kdump-tools do, onto /dev/vda (ext4, read by the host with debugfs), then power off.
# Lines starting with LAB- on the console are read by the host (crashhub.readiness: the lab and `crashhub kernel check`).
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

t() { read -r up _ < /proc/uptime; echo "LAB-T $1 $up"; }
arg() { sed -n "s/.*[ ]lab\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }

# ---- crash channels (issue 19; lab/channels.py) -------------------------------------------------
# Driven by lab.conf: NETCONSOLE (netconsole's module parameter, e.g. "+@10.0.2.15/eth0,PORT@10.0.2.2/"),
# NETCONSOLE_LONG (a message longer than netconsole's 1000-byte chunk, sent once), NC_USERDATA_PORT and
# NC_USERDATA (a second, configfs target with userdata, 6.9+), RAMOOPS (non-empty:
# load ramoops with the ramoops.* parameters of /proc/cmdline, as modprobe would) and PSTORE_READ=boot
# (no capture kernel: a boot that finds pstore records saves them to /dev/vda and powers off); in the
# capture kernel by lab.pstore=1 (save the records beside the dump). Nothing happens without them.
ch_modules() {  # all but netconsole (the NIC must be up first: netpoll opening it waits 4 s more)
	for m in $(cat /etc/lab-modules-channels); do
		case "$m" in
		netconsole) ;;
		ramoops) [ -n "$RAMOOPS" ] && { insmod /lib/modules/ramoops.ko \
			$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^ramoops\.//p') || echo "LAB-ERROR insmod ramoops"; } ;;
		*) insmod "/lib/modules/$m.ko" || echo "LAB-ERROR insmod $m" ;;
		esac
	done
}
ch_pstore_save() {  # $1: the mounted dump disk
	mkdir -p /sys/fs/pstore "$1/pstore"
	mount -t pstore pstore /sys/fs/pstore || echo "LAB-ERROR mount pstore"
	cp -p /sys/fs/pstore/* "$1/pstore/" 2>/dev/null
	echo "LAB-FACT pstore $(ls /sys/fs/pstore | tr '\n' ' ')"
	t pstore-saved
}
ch_userdata_target() {  # NC_USERDATA_PORT, NC_USERDATA="k=v ...": a configfs target (6.9+) with userdata
	mkdir -p /sys/kernel/config && mount -t configfs configfs /sys/kernel/config
	T=/sys/kernel/config/netconsole/lab
	mkdir $T && echo eth0 > $T/dev_name && echo 10.0.2.15 > $T/local_ip && echo 6666 > $T/local_port \
		&& echo 10.0.2.2 > $T/remote_ip && echo "$NC_USERDATA_PORT" > $T/remote_port \
		&& echo 1 > $T/extended && echo 1 > $T/release || echo "LAB-ERROR netconsole configfs"
	for kv in $NC_USERDATA; do
		mkdir "$T/userdata/${kv%%=*}" && echo "${kv#*=}" > "$T/userdata/${kv%%=*}/value" \
			|| echo "LAB-ERROR netconsole userdata $kv"
	done
	echo 1 > $T/enabled || echo "LAB-ERROR netconsole target"
}
ch_setup() {
	[ -n "$NETCONSOLE$RAMOOPS" ] || return 0
	ch_modules
	if [ -n "$NETCONSOLE" ]; then
		ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0
		insmod /lib/modules/netconsole.ko "netconsole=$NETCONSOLE" || echo "LAB-ERROR insmod netconsole"
		[ -n "$NC_USERDATA_PORT" ] && ch_userdata_target
	fi
	if [ "$PSTORE_READ" = boot ]; then
		mkdir -p /sys/fs/pstore && mount -t pstore pstore /sys/fs/pstore || echo "LAB-ERROR mount pstore"
		if [ -n "$(ls /sys/fs/pstore)" ]; then
			# The boot after the crash (panic=N reset; QEMU keeps RAM): save the records, stop.
			t second-boot
			mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || { echo "LAB-ERROR mount"; poweroff -f; }
			umount /sys/fs/pstore
			ch_pstore_save /mnt
			sync; umount /mnt
			poweroff -f
		fi
		umount /sys/fs/pstore
	fi
	if [ -n "$NETCONSOLE_LONG" ]; then
		# One record longer than netconsole's 1000-byte chunk: extended netconsole sends it in ncfrag= parts.
		# echo, not printf: one write(2) is one record.
		LONG="<5>lab-long-line $(printf "%${NETCONSOLE_LONG}s" "" | tr ' ' x)"
		echo "$LONG" > /dev/kmsg || echo "LAB-ERROR long line"
	fi
	t channels
}
# ---- end of crash channels ----------------------------------------------------------------------

for m in $(cat /etc/lab-modules); do insmod "/lib/modules/$m.ko" || echo "LAB-ERROR insmod $m"; done

capture() {
	DL=$(arg dl); CV=$(arg cv); COMP=$(arg comp)
	[ -n "$DL" ] || DL=31
	[ -n "$COMP" ] || COMP=-l
	[ "$COMP" = none ] && COMP=
	LOG=/tmp/collector.log
	mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || { echo "LAB-ERROR mount"; poweroff -f; }
	t capture-start
	# RHEL kdump-utils, local target: <ip>-<date>, dmesg first, then vmcore-incomplete renamed to vmcore.
	R="/mnt/rhel/127.0.0.1-$(date +%Y-%m-%d-%T)"
	mkdir -p "$R"
	makedumpfile --dump-dmesg /proc/vmcore "$R/vmcore-dmesg-incomplete.txt" >>$LOG 2>&1 \
		&& mv "$R/vmcore-dmesg-incomplete.txt" "$R/vmcore-dmesg.txt"
	chmod 600 "$R/vmcore-dmesg.txt"
	t dmesg
	if [ "$CV" = incomplete ]; then
		# Interrupted local write: makedumpfile killed part way (power cut, watchdog).
		I="/mnt/rhel-incomplete/127.0.0.1-$(date +%Y-%m-%d-%T)"
		mkdir -p "$I"
		cp "$R/vmcore-dmesg.txt" "$I/"
		makedumpfile $COMP --message-level 7 -d "$DL" /proc/vmcore "$I/vmcore-incomplete" >>$LOG 2>&1 &
		P=$!
		while [ "$(stat -c %s "$I/vmcore-incomplete" 2>/dev/null || echo 0)" -lt 6291456 ]; do usleep 10000; done
		kill -9 $P; wait $P; sync
		t rhel-incomplete
		# Interrupted ssh transfer: the flattened stream cut after 6 MiB, never renamed.
		J="/mnt/rhel-ssh-incomplete/10.0.2.15-$(date +%Y-%m-%d-%T)"
		mkdir -p "$J"
		cp "$R/vmcore-dmesg.txt" "$J/"
		makedumpfile -F $COMP --message-level 7 -d "$DL" /proc/vmcore 2>>$LOG | head -c 6291456 \
			| dd of="$J/vmcore-incomplete" 2>>$LOG
		sync
		t rhel-ssh-incomplete
		rm -rf "$R"
	else
		makedumpfile $COMP --message-level 7 -d "$DL" /proc/vmcore "$R/vmcore-incomplete" >>$LOG 2>&1 \
			&& sync && mv "$R/vmcore-incomplete" "$R/vmcore"
		t rhel
	fi
	if [ "$CV" = default ]; then
		# RHEL, ssh target: the flattened stream as dd on the far side writes it, renamed to vmcore.flat.
		S="/mnt/rhel-ssh/10.0.2.15-$(date +%Y-%m-%d-%T)"
		mkdir -p "$S"
		cp "$R/vmcore-dmesg.txt" "$S/"
		makedumpfile -F $COMP --message-level 7 -d "$DL" /proc/vmcore 2>>$LOG | dd of="$S/vmcore-incomplete" 2>>$LOG \
			&& mv "$S/vmcore-incomplete" "$S/vmcore.flat"
		t rhel-ssh
		# RHEL with core_collector "makedumpfile -E": an ELF vmcore under the same name.
		E="/mnt/elf/127.0.0.1-$(date +%Y-%m-%d-%T)"
		mkdir -p "$E"
		cp "$R/vmcore-dmesg.txt" "$E/"
		makedumpfile -E --message-level 7 -d "$DL" /proc/vmcore "$E/vmcore-incomplete" >>$LOG 2>&1 \
			&& mv "$E/vmcore-incomplete" "$E/vmcore"
		t elf
		# Debian kdump-tools (bookworm): MAKEDUMP_ARGS="-F -c -d 31" piped to dump-incomplete.
		STAMP=$(date +%Y%m%d%H%M)
		D="/mnt/debian/$STAMP"
		mkdir -p "$D"
		makedumpfile --dump-dmesg /proc/vmcore "$D/dmesg.$STAMP" >>$LOG 2>&1
		makedumpfile -F -c -d "$DL" /proc/vmcore 2>>$LOG > "$D/dump-incomplete" \
			&& mv "$D/dump-incomplete" "$D/dump.$STAMP"
		t debian
	fi
	# kexec-dmesg.log: the capture kernel's log plus the collector's output (RHEL adds its journal).
	for d in /mnt/rhel/*/ /mnt/rhel-ssh/*/ /mnt/elf/*/; do
		[ -d "$d" ] && { dmesg; cat $LOG; } > "$d/kexec-dmesg.log"
	done
	mkdir -p /mnt/lab && cp $LOG /mnt/lab/collector.log
	[ -n "$(arg pstore)" ] && { RAMOOPS=1; ch_modules; ch_pstore_save /mnt; }  # crash channels
	sync
	umount /mnt
	t capture-done
	poweroff -f
}

if [ -e /proc/vmcore ]; then
	capture
fi

. /lab.conf
t boot
ch_setup  # crash channels
if [ "$MODE" = kdump ]; then
	kexec -p /boot/vmlinuz --initrd=/boot/capture.img --append="$CAPTURE_CMDLINE" || echo "LAB-ERROR kexec"
	echo "LAB-FACT kexec_crash_loaded $(cat /sys/kernel/kexec_crash_loaded)"
	t armed
fi
if [ -n "$NEEDS_MODULE" ]; then
	insmod /lib/modules/crashmod.ko || echo "LAB-ERROR insmod crashmod"
fi
echo "LAB-FACT text $(grep ' _text$' /proc/kallsyms)"
echo "LAB-FACT modules $(grep crashmod /proc/modules)"
# Throwaway processes, so the crashing task's pid differs between runs of one kind.
i=0
while [ $i -lt "$THROWAWAY" ]; do sh -c : ; i=$((i + 1)); done
echo 1 > /proc/sys/kernel/panic_on_oops
for kv in $SYSCTLS; do echo "${kv#*=}" > "${kv%%=*}" || echo "LAB-ERROR sysctl $kv"; done
t trigger
# The console is written asynchronously: give the pid line a moment to reach the host before the crash.
if [ -n "$PANIC_COMM" ]; then
	# The panic comes later from another task (a spinning kthread, khungtaskd): note its pid first.
	sh -c 'echo "LAB-TRIGGER pid=$$"; sleep 1; '"$TRIGGER" &
	sleep 3
	echo "LAB-FACT panic-pid $(pidof "$PANIC_COMM")"
	wait
else
	sh -c 'echo "LAB-TRIGGER pid=$$"; sleep 1; '"$TRIGGER"
fi
t returned
while :; do sleep 5; done
